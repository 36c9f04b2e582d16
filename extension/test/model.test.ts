import { describe, expect, it } from 'vitest';

import { PanelModel } from '../src/model';

describe('PanelModel', () => {
  it('goes back to the project of the run last opened', () => {
    const model = new PanelModel();
    expect(model.project).toBeNull();
    model.openRun('abc123');
    model.rememberProject('root', 'quickstart');
    model.openRun(null);
    expect(model.tab).toBe('runs');
    expect(model.run).toBeNull();
    expect(model.project).toBe('root/quickstart');
  });
});
