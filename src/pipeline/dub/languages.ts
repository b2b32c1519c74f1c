/**
 * Languages of the embedded translator and the Apertium modes that connect them. Speech recognition is English
 * only (pocketsphinx en-us), so the embedded source language is English; the MT routes are general.
 */
import { DubError } from './types.ts';

/** Apertium modes installed by the set-up step, keyed `from>to` (ISO 639-1). */
export const apertiumModes: Readonly<Record<string, string>> = {
  'en>es': 'eng-spa',
  'es>en': 'spa-eng',
  'en>ca': 'eng-cat',
  'ca>en': 'cat-eng',
  'fr>es': 'fr-es',
  'es>fr': 'es-fr',
};

/** Source languages the embedded recogniser understands. */
export const embeddedSourceLanguages = ['en'] as const;
/** Target languages of the embedded default (English: passthrough of the original or re-synthesis). */
export const embeddedTargetLanguages = ['es', 'ca', 'fr', 'en'] as const;

export function supportedPairs(): string[] {
  return Object.keys(apertiumModes).map((k) => k.replace('>', '->'));
}

/**
 * The Apertium modes to chain for `from` -> `to`: the direct pair when there is one, else the shortest chain of
 * pairs (en -> fr = eng-spa then es-fr: Spanish is the hub of the installed pairs). `[]` when from === to.
 */
export function translationRoute(from: string, to: string): string[] {
  if (from === to) return [];
  const edges = Object.entries(apertiumModes).map(([k, mode]) => {
    const [a, b] = k.split('>') as [string, string];
    return { a, b, mode };
  });
  // Breadth-first over languages: the first time `to` is reached is a shortest chain.
  const prev = new Map<string, { lang: string; mode: string }>();
  const queue = [from];
  const seen = new Set([from]);
  while (queue.length) {
    const lang = queue.shift()!;
    if (lang === to) break;
    for (const e of edges) {
      if (e.a !== lang || seen.has(e.b)) continue;
      seen.add(e.b);
      prev.set(e.b, { lang, mode: e.mode });
      queue.push(e.b);
    }
  }
  if (!prev.has(to)) {
    throw new DubError(
      'unsupported-language',
      `no translation from '${from}' to '${to}'; supported pairs: ${supportedPairs().join(', ')}` +
        ` (chained through Spanish where needed)`,
    );
  }
  const route: string[] = [];
  for (let at = to; at !== from; ) {
    const p = prev.get(at)!;
    route.unshift(p.mode);
    at = p.lang;
  }
  return route;
}

/** Checks the source and target of the embedded default, with the supported ones in the message. */
export function checkEmbeddedLanguages(source: string, target: string): void {
  if (!(embeddedSourceLanguages as readonly string[]).includes(source)) {
    throw new DubError(
      'unsupported-language',
      `speech recognition here is English only (pocketsphinx en-us): source language '${source}' is not supported`,
    );
  }
  if (!(embeddedTargetLanguages as readonly string[]).includes(target)) {
    throw new DubError(
      'unsupported-language',
      `target language '${target}' is not supported; supported: ${embeddedTargetLanguages.join(', ')}`,
    );
  }
  translationRoute(source, target);
}
