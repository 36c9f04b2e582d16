/**
 * The `%labdeck` lines that the start and stop commands run in the current
 * notebook's kernel: the same magic a user types, so the kernel side has one
 * code path. `--no-chart`: nothing displays a chart for code run by a command.
 */

/** `%labdeck start`, recording into the preferred project when one is set. */
export function startCode(defaultProject: string): string {
  const project = defaultProject.trim();
  const option = project ? ` --project "${project.replace(/["\\]/g, '\\$&')}"` : '';
  return `%load_ext labdeck\n%labdeck start --no-chart${option}`;
}

export const STOP_CODE = '%load_ext labdeck\n%labdeck stop';
