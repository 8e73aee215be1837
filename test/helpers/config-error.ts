// The one-line error parseConfig gives for a bad switch config (the config tests compare it): fails
// the test if the text parses, or if the error is not a ConfigError on one line.
import { expect } from 'vitest';
import { parseConfig, ConfigError } from '../../src/agent/config.js';

export function configError(text: string, file = 'sluice.yaml'): string {
  try { parseConfig(text, file); } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).code).toBe('CONFIG_INVALID');
    expect((e as Error).message).not.toContain('\n');
    return (e as Error).message;
  }
  throw new Error('no error');
}
