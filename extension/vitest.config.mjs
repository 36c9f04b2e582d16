// The unit tests of the frontend's logic (API client, error display, chart
// building): plain functions, run in Node without a browser.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: { include: ['test/**/*.test.ts'], environment: 'node' }
});
