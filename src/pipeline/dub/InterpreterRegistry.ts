/**
 * Who interprets whom: a pure map (speaker, language) -> interpreter peer, for the SFU's room state. An interpreter
 * may serve several speakers (and the whole floor, with speaker `*`); a speaker has at most one interpreter per
 * language. No I/O, no timers: the SFU calls it on its own events (assignment messages, peer leave).
 */

/** Any speaker: an interpreter assigned to `*` interprets every speaker without an own interpreter for that language. */
export const ANY_SPEAKER = '*';

export interface InterpreterAssignment {
  speakerId: string;
  language: string;
  interpreterId: string;
}

const LANGUAGE_TAG = /^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$/;

function checkId(what: string, id: string): void {
  if (typeof id !== 'string' || id.length === 0 || id.length > 256) {
    throw new TypeError(`InterpreterRegistry: ${what} must be a non-empty string of at most 256 characters`);
  }
}

export class InterpreterRegistry {
  /** speakerId -> language -> interpreterId */
  private readonly map = new Map<string, Map<string, string>>();

  /**
   * Assigns `interpreterId` to interpret `speakerId` (or `*`) into `language`, replacing any previous interpreter
   * of that pair. Returns the replaced interpreter, if any.
   */
  assign(speakerId: string, language: string, interpreterId: string): string | undefined {
    checkId('speakerId', speakerId);
    checkId('interpreterId', interpreterId);
    if (typeof language !== 'string' || !LANGUAGE_TAG.test(language)) {
      throw new TypeError(
        `InterpreterRegistry: language must be a BCP-47 tag like 'es' or 'pt-BR', got '${String(language)}'`,
      );
    }
    if (speakerId === interpreterId) {
      throw new TypeError(`InterpreterRegistry: peer '${speakerId}' cannot interpret itself`);
    }
    let byLang = this.map.get(speakerId);
    if (!byLang) this.map.set(speakerId, (byLang = new Map<string, string>()));
    const previous = byLang.get(language);
    byLang.set(language, interpreterId);
    return previous;
  }

  /** Removes one assignment; true when there was one. */
  unassign(speakerId: string, language: string): boolean {
    const byLang = this.map.get(speakerId);
    const had = byLang?.delete(language) ?? false;
    if (byLang && byLang.size === 0) this.map.delete(speakerId);
    return had;
  }

  /** The interpreter for this speaker and language: the speaker's own, else the floor interpreter (`*`). */
  interpreterFor(speakerId: string, language: string): string | undefined {
    return this.map.get(speakerId)?.get(language) ?? this.map.get(ANY_SPEAKER)?.get(language);
  }

  /** Languages this speaker can be heard in through an interpreter (own or floor), sorted. */
  languagesFor(speakerId: string): string[] {
    const langs = new Set([...(this.map.get(speakerId)?.keys() ?? []), ...(this.map.get(ANY_SPEAKER)?.keys() ?? [])]);
    for (const l of langs) if (this.interpreterFor(speakerId, l) === speakerId) langs.delete(l);
    return [...langs].sort();
  }

  /** What one interpreter is assigned to. */
  assignmentsOf(interpreterId: string): InterpreterAssignment[] {
    return this.entries().filter((a) => a.interpreterId === interpreterId);
  }

  /** Speakers an interpreter's audio is the dub of, for one language (`*` included as is). */
  speakersOf(interpreterId: string, language: string): string[] {
    return this.assignmentsOf(interpreterId)
      .filter((a) => a.language === language)
      .map((a) => a.speakerId);
  }

  /** A peer left the room: drops every assignment where it is the speaker or the interpreter; returns them. */
  removePeer(peerId: string): InterpreterAssignment[] {
    const removed = this.entries().filter((a) => a.speakerId === peerId || a.interpreterId === peerId);
    for (const a of removed) this.unassign(a.speakerId, a.language);
    return removed;
  }

  entries(): InterpreterAssignment[] {
    const out: InterpreterAssignment[] = [];
    for (const [speakerId, byLang] of this.map) {
      for (const [language, interpreterId] of byLang) out.push({ speakerId, language, interpreterId });
    }
    return out;
  }

  get size(): number {
    let n = 0;
    for (const byLang of this.map.values()) n += byLang.size;
    return n;
  }

  clear(): void {
    this.map.clear();
  }
}
