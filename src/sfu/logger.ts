/**
 * Minimal namespaced logger (`sfu:Room`, `sfu:Tap`...). Debug lines print when DEBUG names the namespace (`DEBUG=sfu:*`,
 * as with the `debug` package mediasoup uses); warnings and errors always print to stderr. Messages carry ids, never
 * tokens or personal data.
 */
export interface Logger {
  debug(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

function debugEnabled(namespace: string): boolean {
  const spec = typeof process !== 'undefined' ? process.env.DEBUG : undefined;
  if (!spec) return false;
  return spec.split(/[\s,]+/).some((pattern) => {
    if (!pattern) return false;
    const re = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
    return re.test(namespace);
  });
}

export function createLogger(name: string): Logger {
  const namespace = `sfu:${name}`;
  const enabled = debugEnabled(namespace);
  return {
    debug: enabled ? (m) => console.error(`${namespace} ${m}`) : () => {},
    warn: (m) => console.error(`${namespace} WARN ${m}`),
    error: (m) => console.error(`${namespace} ERROR ${m}`),
  };
}
