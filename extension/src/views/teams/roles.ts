/** The roles a team offers: the standard three and its organization's custom roles. */
import { unwrap } from '../../api/client';
import type { Client, CustomRole } from '../../api/client';
import { roleLabel } from '../me/labels';

export const STANDARD_ROLES = ['admin', 'member', 'view_only'];

export function roleOptions(custom: CustomRole[]): Array<{ value: string; label: string }> {
  return [
    ...STANDARD_ROLES.map(r => ({ value: r, label: roleLabel(r) })),
    ...custom.map(r => ({ value: r.name, label: `${r.name} (custom)` }))
  ];
}

export function loadCustomRoles(client: Client, org: string): Promise<CustomRole[]> {
  return unwrap(client.GET('/labdeck/api/orgs/{org}/custom-roles', { params: { path: { org } } }));
}
