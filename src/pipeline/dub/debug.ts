/**
 * Debug logging by namespace (`LIPSYNC_DEBUG=dub:*` or `dub:embedded`), off by default. Messages never carry
 * transcripts or translations: those are personal data.
 */
import { debuglog } from 'node:util';

export default function createDebug(ns: string): (msg: string) => void {
  const full = `dub:${ns}`;
  const env = process.env.LIPSYNC_DEBUG ?? '';
  const on = env.split(',').some((p) => p === full || p === 'dub:*' || p === '*');
  const nodeLog = debuglog(`lipsync_dub_${ns}`);
  return (msg: string) => {
    if (on) process.stderr.write(`[${full}] ${msg}\n`);
    else nodeLog(msg);
  };
}
