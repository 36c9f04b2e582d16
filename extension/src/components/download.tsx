/** Exports the API answers as files (a run's CSV, a team's archive). */
import React from 'react';

import { useAction } from './hooks';
import { ActionButton } from './ui';

/** Save a blob the API answered as a file, the browser's way. */
export function saveBlob(blob: Blob, filename: string): void {
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

/** A button that fetches an export and saves it; a refusal shows beside it. */
export function DownloadButton(props: {
  load: () => Promise<Blob>;
  filename: string;
  children: React.ReactNode;
}): JSX.Element {
  const download = useAction();
  return (
    <ActionButton
      small
      secondary
      action={download}
      onClick={() => void download.run(async () => saveBlob(await props.load(), props.filename))}
    >
      {props.children}
    </ActionButton>
  );
}
