/** Words for the server's identifiers (events and channels of alerts). */

const EVENT_LABELS: Record<string, string> = {
  run_finished: 'Run finished',
  run_crashed: 'Run crashed',
  custom: 'Alerts from code',
  threshold: 'Threshold rules',
  idle: 'Idle resources'
};

const CHANNEL_LABELS: Record<string, string> = { email: 'Email', slack: 'Slack' };

/** `run_finished` -> "Run finished"; an unknown name reads with spaces. */
export function eventLabel(event: string): string {
  return EVENT_LABELS[event] ?? event.replace(/_/g, ' ');
}

export function channelLabel(channel: string): string {
  return CHANNEL_LABELS[channel] ?? channel;
}

const ROLE_LABELS: Record<string, string> = {
  admin: 'Admin',
  member: 'Member',
  view_only: 'View-only'
};

/** A team role's name as people read it; custom roles keep their own name. */
export function roleLabel(role: string | null | undefined): string {
  if (!role) {
    return '–';
  }
  return ROLE_LABELS[role] ?? role;
}
