/**
 * A view that throws while rendering shows what happened, with a way to try
 * again, instead of taking the whole panel down.
 */
import { Button } from '@jupyterlab/ui-components';
import React from 'react';

interface IState {
  error: Error | null;
}

export class ErrorBoundary extends React.Component<{ children: React.ReactNode }, IState> {
  override state: IState = { error: null };

  static getDerivedStateFromError(error: Error): IState {
    return { error };
  }

  override componentDidCatch(error: Error): void {
    console.error('labdeck: a view failed', error);
  }

  override render(): React.ReactNode {
    if (this.state.error === null) {
      return this.props.children;
    }
    return (
      <div className="jp-labdeck-error" role="alert">
        <span>This view failed: {this.state.error.message}</span>
        <Button
          small
          className="jp-labdeck-secondary"
          onClick={() => this.setState({ error: null })}
        >
          Try again
        </Button>
      </div>
    );
  }
}
