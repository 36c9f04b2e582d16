/**
 * Small building blocks shared by the views: loading, empty and error
 * states, labelled fields that show the server's refusal of that field, a
 * usage bar, and a secret shown once with a copy button. Text is always
 * rendered as text (React escapes it); nothing here takes HTML.
 */
import { Clipboard } from '@jupyterlab/apputils';
import { Button } from '@jupyterlab/ui-components';
import React, { useId, useState } from 'react';

import { errorField, errorMessage } from '../api/errors';
import { formatBytes } from '../format';
import type { IAction, IResource } from './hooks';

export function Loading(props: { what?: string }): JSX.Element {
  return (
    <div className="jp-labdeck-loading" role="status" aria-live="polite">
      <span className="jp-labdeck-spinner" aria-hidden="true" />
      Loading{props.what ? ` ${props.what}` : ''}…
    </div>
  );
}

export function Empty(props: { children: React.ReactNode }): JSX.Element {
  return <p className="jp-labdeck-empty">{props.children}</p>;
}

/** The server's refusal (or a network failure), next to what caused it. */
export function ErrorNote(props: { error: unknown; onRetry?: () => void }): JSX.Element | null {
  if (props.error === undefined || props.error === null) {
    return null;
  }
  return (
    <div className="jp-labdeck-error" role="alert">
      <span>{errorMessage(props.error)}</span>
      {props.onRetry && (
        <Button small className="jp-labdeck-secondary" onClick={props.onRetry}>
          Retry
        </Button>
      )}
    </div>
  );
}

/** Loading / error (with retry) / the view of the data. */
export function Show<T>(props: {
  resource: IResource<T>;
  what?: string;
  children: (data: T) => React.ReactNode;
}): JSX.Element {
  const { loaded, reload } = props.resource;
  if (loaded.state === 'loading') {
    return <Loading what={props.what} />;
  }
  if (loaded.state === 'error') {
    return <ErrorNote error={loaded.error} onRetry={reload} />;
  }
  return <>{props.children(loaded.data)}</>;
}

export function Section(props: {
  title: string;
  children: React.ReactNode;
  className?: string;
}): JSX.Element {
  const id = useId();
  return (
    <section className={`jp-labdeck-section ${props.className ?? ''}`} aria-labelledby={id}>
      <h3 id={id} className="jp-labdeck-section-title">
        {props.title}
      </h3>
      {props.children}
    </section>
  );
}

interface IFieldProps {
  label: string;
  name: string;
  value: string;
  onChange: (value: string) => void;
  /** The last refusal of the form: shown here when it names this field. */
  error?: unknown;
  type?: string;
  multiline?: boolean;
  placeholder?: string;
  disabled?: boolean;
  autoComplete?: string;
  /** The id of a <datalist> of suggestions. */
  list?: string;
}

export function Field(props: IFieldProps): JSX.Element {
  const id = useId();
  const invalid = errorField(props.error) === props.name;
  const common = {
    id,
    name: props.name,
    value: props.value,
    placeholder: props.placeholder,
    disabled: props.disabled,
    'aria-invalid': invalid || undefined,
    'aria-describedby': invalid ? `${id}-error` : undefined,
    className: 'jp-labdeck-input' + (invalid ? ' jp-mod-invalid' : '')
  };
  return (
    <div className="jp-labdeck-field">
      <label htmlFor={id}>{props.label}</label>
      {props.multiline ? (
        <textarea {...common} rows={3} onChange={e => props.onChange(e.target.value)} />
      ) : (
        <input
          {...common}
          type={props.type ?? 'text'}
          autoComplete={props.autoComplete ?? 'off'}
          list={props.list}
          onChange={e => props.onChange(e.target.value)}
        />
      )}
      {invalid && (
        <span id={`${id}-error`} className="jp-labdeck-field-error" role="alert">
          {errorMessage(props.error)}
        </span>
      )}
    </div>
  );
}

/** A button whose action's refusal is shown right after it. */
export function ActionButton(props: {
  action: IAction;
  onClick: () => void;
  children: React.ReactNode;
  label?: string;
  disabled?: boolean;
  small?: boolean;
  danger?: boolean;
  /** A lesser action (a row's, a form's second button). */
  secondary?: boolean;
  /** Leave a refusal that names a field to that field. */
  quiet?: boolean;
  /** Show no refusal here: the caller shows it (buttons sharing one action). */
  noError?: boolean;
  type?: 'button' | 'submit';
}): JSX.Element {
  const { action } = props;
  const shown = !props.noError && (!props.quiet || !errorField(action.error));
  return (
    <span className="jp-labdeck-action">
      <Button
        type={props.type ?? 'button'}
        small={props.small}
        className={
          props.danger
            ? 'jp-labdeck-danger'
            : props.secondary
              ? 'jp-labdeck-secondary'
              : 'jp-labdeck-primary'
        }
        aria-label={props.label}
        disabled={action.busy || props.disabled}
        aria-busy={action.busy || undefined}
        onClick={props.onClick}
      >
        {props.children}
      </Button>
      {shown && <ErrorNote error={action.error} />}
    </span>
  );
}

/** Used / quota as a bar and in words. */
export function UsageBar(props: { used: number; quota: number; label: string }): JSX.Element {
  const share = props.quota > 0 ? Math.min(1, props.used / props.quota) : 0;
  const percent = Math.round(share * 1000) / 10;
  return (
    <div className="jp-labdeck-usage">
      <div
        className={'jp-labdeck-bar' + (share >= 0.9 ? ' jp-mod-warn' : '')}
        role="progressbar"
        aria-label={props.label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
      >
        <div className="jp-labdeck-bar-fill" style={{ width: `${share * 100}%` }} />
      </div>
      <span className="jp-labdeck-usage-text">
        {formatBytes(props.used)} of {formatBytes(props.quota)} ({percent}%)
      </span>
    </div>
  );
}

/** A secret the server shows once (an API key): copy it now. */
export function SecretOnce(props: { secret: string; onDone: () => void }): JSX.Element {
  const [copied, setCopied] = useState(false);
  return (
    <div className="jp-labdeck-secret" role="status">
      <p>Copy this key now: it will not be shown again.</p>
      <code className="jp-labdeck-secret-value">{props.secret}</code>
      <div className="jp-labdeck-row">
        <Button
          small
          className="jp-labdeck-primary"
          onClick={() => {
            Clipboard.copyToSystem(props.secret);
            setCopied(true);
          }}
        >
          {copied ? 'Copied' : 'Copy'}
        </Button>
        <Button small className="jp-labdeck-secondary" onClick={props.onDone}>
          Done
        </Button>
      </div>
    </div>
  );
}

/** A labelled select over plain string options. */
export function Select(props: {
  label: string;
  value: string;
  options: Array<{ value: string; label: string }>;
  onChange: (value: string) => void;
  disabled?: boolean;
  hideLabel?: boolean;
  /** A fuller name for assistive technology than the visible label. */
  'aria-label'?: string;
}): JSX.Element {
  const id = useId();
  return (
    <span className="jp-labdeck-select">
      <label htmlFor={id} className={props.hideLabel ? 'jp-labdeck-visually-hidden' : ''}>
        {props.label}
      </label>
      <select
        id={id}
        aria-label={props['aria-label']}
        className="jp-mod-styled"
        value={props.value}
        disabled={props.disabled}
        onChange={e => props.onChange(e.target.value)}
      >
        {props.options.map(o => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </span>
  );
}

export function Checkbox(props: {
  label: string;
  checked: boolean;
  onChange: (checked: boolean) => void;
  disabled?: boolean;
  description?: string;
}): JSX.Element {
  const id = useId();
  return (
    <div className="jp-labdeck-check">
      <input
        id={id}
        type="checkbox"
        checked={props.checked}
        disabled={props.disabled}
        onChange={e => props.onChange(e.target.checked)}
      />
      <label htmlFor={id}>
        {props.label}
        {props.description && <span className="jp-labdeck-hint"> — {props.description}</span>}
      </label>
    </div>
  );
}
