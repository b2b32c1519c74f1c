import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { RtpProcessorFactory } from '../../pipeline/stage.ts';
import { numberOption, parseOptions, UsageError } from '../args.ts';
import { repoRoot } from '../paths.ts';

export const summary = 'run the SFU: HTTP + WebSocket signalling on one port, mediasoup workers, taps';

const usage = `usage: lipsync serve [--port 8080] [--host 127.0.0.1] [--workers N] [--secret S] [--mode demo|prod]
                     [--listen-ip IP] [--announced-ip ADDR] [--rtc-ports MIN-MAX] [--static DIR] [--languages es,fr]
                     [--interpret-languages de,it] [--provider-url ws://HOST:PORT --provider-languages pt,de]
                     [--dub-stage lipsync|identity] [--dub-delay-ms 1500]
                     [--processor transcode|identity] [--stage NAME]
  --port N            HTTP + WebSocket port (default 8080; 0 picks a free one)
  --host H            interface for HTTP/WS (default 127.0.0.1: loopback only)
  --workers N         mediasoup workers (default: one per core)
  --secret S          token secret, >= 16 chars (default: $LIPSYNC_SECRET, else random per run)
  --mode M            demo (default): GET /token mints tokens for the demo page; prod: no token endpoint
  --listen-ip IP      IP the WebRTC transports bind (default: --host, or 0.0.0.0 when --host is 0.0.0.0)
  --announced-ip A    address announced in ICE candidates (public IP / hostname behind NAT)
  --rtc-ports A-B     UDP/TCP port range for WebRTC (default 10000-59999)
  --static DIR        static files at / (default: the demo page, bundled into .cache/demo)
  --languages L       dub languages rooms offer (embedded translator from English: es, ca, fr), comma-separated;
                      listeners choose one per speaker (default none)
  --interpret-languages L  languages offered through human interpreters only, comma-separated: a peer whose
                      token grants the language (claim interpret, demo: /token?...&interpret=de) or a host
                      (claim host, demo: &host=1) starts interpreting over signalling. Interpreters may also
                      take over a --languages language for a speaker (their voice wins over the translator)
  --provider-url U    a dub provider speaking the lipsync-dub/1 protocol (docs/provider-protocol.md; e.g.
                      lipsync translate-server on another host) for --provider-languages
  --provider-languages L  languages the provider dubs into, comma-separated (needs --provider-url)
  --dub-stage S       face stage of dub pipelines: lipsync (default) or identity (dubbed voice, real face)
  --dub-delay-ms N    dub timeline delay; the dubbed video is delayed as much (default 1500)
  --processor P       transcode (default): tapped tracks are decoded, run through --stage and re-encoded;
                      identity: forwarded unchanged
  --stage NAME        frame stage of the transcoding processor (default identity; see lipsync dub --help)`;

export async function run(argv: string[]): Promise<number> {
  const opts = parseOptions(
    argv,
    {
      port: { type: 'string' },
      host: { type: 'string' },
      workers: { type: 'string' },
      secret: { type: 'string' },
      mode: { type: 'string' },
      'listen-ip': { type: 'string' },
      'announced-ip': { type: 'string' },
      'rtc-ports': { type: 'string' },
      static: { type: 'string' },
      languages: { type: 'string' },
      'interpret-languages': { type: 'string' },
      'provider-url': { type: 'string' },
      'provider-languages': { type: 'string' },
      'dub-stage': { type: 'string' },
      'dub-delay-ms': { type: 'string' },
      processor: { type: 'string' },
      stage: { type: 'string' },
    },
    usage,
  );
  if (!opts) return 0;
  const port = numberOption('port', opts.port, 8080, 0, 65535);
  const host = opts.host ?? '127.0.0.1';
  const mode = opts.mode ?? 'demo';
  if (mode !== 'demo' && mode !== 'prod') throw new UsageError(`--mode must be demo or prod, got '${mode}'`);
  const secret = opts.secret ?? process.env.LIPSYNC_SECRET;
  if (mode === 'prod' && !secret) throw new UsageError('--mode prod needs --secret or LIPSYNC_SECRET');
  if (secret !== undefined && secret.length < 16) throw new UsageError('--secret must be at least 16 characters');
  let portRange: { min: number; max: number } | undefined;
  if (opts['rtc-ports']) {
    const m = /^(\d+)-(\d+)$/.exec(opts['rtc-ports']);
    const min = Number(m?.[1]);
    const max = Number(m?.[2]);
    if (!m || min < 1024 || max > 65535 || min > max)
      throw new UsageError('--rtc-ports must be MIN-MAX in [1024, 65535]');
    portRange = { min, max };
  }
  const splitList = (v: string | undefined) =>
    (v ?? '')
      .split(',')
      .map((l) => l.trim())
      .filter(Boolean);
  const embedded = splitList(opts.languages);
  const provided = splitList(opts['provider-languages']).filter((l) => !embedded.includes(l));
  const interpreted = splitList(opts['interpret-languages']).filter(
    (l) => !embedded.includes(l) && !provided.includes(l),
  );
  const providerUrl = opts['provider-url'];
  if (provided.length && !providerUrl) throw new UsageError('--provider-languages needs --provider-url');
  if (providerUrl && !/^wss?:\/\/[^\s/]+/.test(providerUrl)) {
    throw new UsageError(`--provider-url must be a ws:// or wss:// URL, got '${providerUrl}'`);
  }
  if (providerUrl && !provided.length) throw new UsageError('--provider-url needs --provider-languages');
  const languageTag = /^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$/;
  for (const l of [...embedded, ...provided, ...interpreted]) {
    if (!languageTag.test(l)) throw new UsageError(`'${l}' is not a language tag like 'es' or 'pt-BR'`);
  }
  const languages = [...embedded, ...provided, ...interpreted];
  // The demo page is bundled (esbuild) into .cache/demo, rebuilt here when a source is newer than the bundle.
  let staticDir = opts.static ? resolve(opts.static) : undefined;
  if (!staticDir && existsSync(resolve(repoRoot, 'src/client-sdk/demo/main.ts'))) {
    const demoStep = (await import(pathToFileURL(resolve(repoRoot, 'scripts/setup.d/50-demo.mjs')).href)) as {
      buildDemo(root: string, o?: { log?: (m: string) => void }): Promise<string>;
    };
    staticDir = await demoStep.buildDemo(repoRoot, { log: (m) => console.log(m) });
  }

  const processor = opts.processor ?? 'transcode';
  if (processor !== 'transcode' && processor !== 'identity') {
    throw new UsageError(`--processor must be transcode or identity, got '${processor}'`);
  }
  // mediasoup (and node-av for the transcoding processor) are loaded only when serving.
  const { LipsyncServer } = await import('../../sfu/index.ts');
  const dubStage = opts['dub-stage'] ?? 'lipsync';
  if (dubStage !== 'lipsync' && dubStage !== 'identity')
    throw new UsageError('--dub-stage must be lipsync or identity');
  const dubs = languages.length
    ? (await import('../../sfu/dub/index.ts')).dubManagerFactory({
        offers: [
          ...embedded.map((language) => ({ language, source: 'embedded' as const })),
          ...provided.map((language) => ({ language, source: 'provider' as const })),
          ...interpreted.map((language) => ({ language, source: 'interpreter' as const })),
        ],
        ...(providerUrl ? { providerUrl } : {}),
        stage: dubStage,
        timelineDelayMs: numberOption('dub-delay-ms', opts['dub-delay-ms'], 1500, 0, 10_000),
      })
    : undefined;
  let processorFactory: RtpProcessorFactory | undefined;
  if (processor === 'transcode') {
    const pipeline = await import('../../pipeline/index.ts');
    const stage = opts.stage ?? 'identity';
    if (!pipeline.listAvStages().some((s) => s.name === stage)) {
      throw new UsageError(
        `unknown stage '${stage}'; known: ${pipeline
          .listAvStages()
          .map((s) => s.name)
          .join(', ')}`,
      );
    }
    processorFactory = pipeline.transcodingProcessorFactory({ stage });
  }
  const server = await LipsyncServer.start({
    port,
    host,
    ...(secret ? { secret } : {}),
    ...(opts.workers ? { numWorkers: numberOption('workers', opts.workers, 1, 1, 256) } : {}),
    demo: mode === 'demo',
    ...(staticDir ? { staticDir } : {}),
    ...(languages.length ? { languages } : {}),
    ...(dubs ? { dubs } : {}),
    ...(processorFactory ? { processorFactory } : {}),
    transport: {
      listenIp: opts['listen-ip'] ?? (host === 'localhost' ? '127.0.0.1' : host),
      ...(opts['announced-ip'] ? { announcedAddress: opts['announced-ip'] } : {}),
      ...(portRange ? { portRange } : {}),
    },
  });
  console.log(
    `lipsync-sfu listening on ${server.httpUrl} (signalling ${server.wsUrl}, ${server.pool.workers.length} worker(s), ${mode} mode)`,
  );
  if (mode === 'demo') console.log(`demo tokens: ${server.httpUrl}/token?room=demo&peer=alice`);
  if (!staticDir) console.log('no demo page yet (src/client-sdk/demo/): serving a placeholder page');

  await new Promise<void>((done) => {
    const stop = (signal: string) => {
      console.log(`\n${signal}: shutting down`);
      done();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  server.close();
  return 0;
}
