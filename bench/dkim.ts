import { createPrivateKey, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { dkimSign } from 'mailauth';
import { sealSecret } from '../src/governance/index.js';
import {
  createDkimSigner,
  type DkimAlgorithm,
  type DkimKeyRow,
  type DkimSigningKey,
  dkimKeyAad,
  generateDkimKey,
  signDkim,
} from '../src/identity/index.js';

/**
 * What DKIM signing costs, and what it does to the event loop: `npm run bench -- dkim` (or
 * `node --import tsx bench/dkim.ts`). A ~4 KB message is signed N times
 *
 * - inline (signDkim on the calling thread): CPU per signature, which is also how long each
 *   signature blocks the event loop, for RSA-2048, Ed25519 and both (dual signing);
 * - with mailauth 4.13.3's dkimSign, for comparison (it re-parses the PEM key on every call);
 * - through createDkimSigner with 0, 1 and 2 signing threads and 64 messages in flight: signatures
 *   per second, the event-loop delay (p99, max) a concurrent timer sees, and the main thread's busy
 *   time per message (event-loop utilisation × wall time ÷ N).
 */

interface InlineFigures {
  case: string;
  signs: number;
  cpu_ms_per_sign: number;
  wall_p50_ms: number;
  wall_p99_ms: number;
  signs_per_s_one_core: number;
}

interface SignerFigures {
  threads: number;
  algorithms: string;
  messages: number;
  in_flight: number;
  signs_per_s: number;
  loop_delay_p99_ms: number;
  loop_delay_max_ms: number;
  main_thread_busy_ms_per_msg: number;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const round = (n: number, d = 3) => Number(n.toFixed(d));

function message(i: number): Buffer {
  const body = `${'The quarterly figures are attached below; reply to this message with questions. '.repeat(48)}\r\n`;
  return Buffer.from(
    [
      'From: Reports <reports@bench.example>',
      `To: r${i}@example.net`,
      `Subject: Report ${i}`,
      'Date: Mon, 23 Nov 2026 09:00:00 +0000',
      `Message-ID: <bench-${i}@bench.example>`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      body.replace(/(.{76})/g, '$1\r\n'),
    ].join('\r\n'),
  );
}

async function timeInline(name: string, n: number, sign: (raw: Buffer) => unknown): Promise<InlineFigures> {
  for (let i = 0; i < Math.min(50, n); i++) await sign(message(i)); // warm up
  const msgs = Array.from({ length: n }, (_, i) => message(i));
  const wall: number[] = [];
  const cpu0 = process.cpuUsage();
  for (const m of msgs) {
    const s = performance.now();
    await sign(m);
    wall.push(performance.now() - s);
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000 / n;
  wall.sort((a, b) => a - b);
  return {
    case: name,
    signs: n,
    cpu_ms_per_sign: round(cpuMs),
    wall_p50_ms: round(percentile(wall, 50)),
    wall_p99_ms: round(percentile(wall, 99)),
    signs_per_s_one_core: Math.round(1000 / cpuMs),
  };
}

async function timeSigner(
  threads: number,
  algorithms: DkimAlgorithm[],
  rows: DkimKeyRow[],
  masterKey: Buffer,
  n: number,
): Promise<SignerFigures> {
  const inFlight = 64;
  const store = { dkimKeys: { activeFor: async () => rows.filter((r) => algorithms.includes(r.algorithm)) } };
  const signer = createDkimSigner({ store, masterKey, clock: { now: () => Date.now() }, threads, maxQueue: 4 * inFlight });
  for (let i = 0; i < 20; i++) await signer.sign(message(i), 'bench.example'); // keys opened, threads warm
  const msgs = Array.from({ length: n }, (_, i) => message(i));
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      for (let i = next++; i < n; i = next++) {
        await signer.sign(msgs[i]!, 'bench.example');
        // Back to the event loop between messages, as a delivery session does (it writes to a socket).
        await new Promise(setImmediate);
      }
    }),
  );
  const wall = performance.now() - t0;
  const elu = performance.eventLoopUtilization(elu0);
  delay.disable();
  await signer.close();
  return {
    threads,
    algorithms: algorithms.join('+'),
    messages: n,
    in_flight: inFlight,
    signs_per_s: Math.round((n / wall) * 1000),
    loop_delay_p99_ms: round(delay.percentile(99) / 1e6, 2),
    loop_delay_max_ms: round(delay.max / 1e6, 2),
    main_thread_busy_ms_per_msg: round((elu.utilization * wall) / n),
  };
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      messages: { type: 'string', default: '2000' },
      out: { type: 'string', default: 'bench/results/dkim.json' },
    },
  });
  const n = Number(values.messages);
  const masterKey = randomBytes(32);
  const rsa = await generateDkimKey('rsa-2048');
  const ed = await generateDkimKey('ed25519');
  const rsaKey: DkimSigningKey = {
    domain: 'bench.example',
    selector: 'r',
    algorithm: 'rsa-2048',
    key: createPrivateKey(rsa.privateKeyPem),
  };
  const edKey: DkimSigningKey = { domain: 'bench.example', selector: 'e', algorithm: 'ed25519', key: createPrivateKey(ed.privateKeyPem) };
  const rows: DkimKeyRow[] = [rsa, ed].map((m, i) => {
    const id = `dk_bench${i}`;
    return {
      id,
      tenantId: 'ten_bench',
      domainId: 'dom_bench',
      domain: 'bench.example',
      selector: i ? 'e' : 'r',
      algorithm: m.algorithm,
      privateKey: sealSecret(Buffer.from(m.privateKeyPem), masterKey, dkimKeyAad(id)),
      publicKey: m.publicKey,
      status: 'active',
      createdAt: 0,
      activatedAt: 0,
      retiredAt: null,
    };
  });
  const now = Date.now();
  console.log(`DKIM signing, ${message(0).length}-byte message, ${availableParallelism()} cores, node ${process.version}`);

  const inline: InlineFigures[] = [
    await timeInline('rsa-2048 (signDkim)', n, (raw) => signDkim(raw, [rsaKey], now)),
    await timeInline('ed25519 (signDkim)', n, (raw) => signDkim(raw, [edKey], now)),
    await timeInline('rsa-2048 + ed25519 (signDkim)', n, (raw) => signDkim(raw, [rsaKey, edKey], now)),
    await timeInline('rsa-2048 (mailauth dkimSign)', Math.min(n, 500), (raw) =>
      dkimSign(raw, {
        signingDomain: 'bench.example',
        selector: 'r',
        privateKey: rsa.privateKeyPem,
        signatureData: [{ signingDomain: 'bench.example', selector: 'r', privateKey: rsa.privateKeyPem }],
      }),
    ),
  ];
  for (const r of inline) {
    console.log(
      `${r.case.padEnd(32)} ${String(r.cpu_ms_per_sign).padStart(7)} ms CPU/sign  p50 ${r.wall_p50_ms} ms  p99 ${r.wall_p99_ms} ms  ≈${r.signs_per_s_one_core}/s per core`,
    );
  }

  const pooled: SignerFigures[] = [];
  for (const threads of [0, 1, 2]) pooled.push(await timeSigner(threads, ['rsa-2048'], rows, masterKey, n));
  pooled.push(await timeSigner(2, ['rsa-2048', 'ed25519'], rows, masterKey, n));
  for (const r of pooled) {
    console.log(
      `signer threads=${r.threads} ${r.algorithms.padEnd(16)} ${String(r.signs_per_s).padStart(6)} signs/s  loop delay p99 ${r.loop_delay_p99_ms} ms max ${r.loop_delay_max_ms} ms  main thread ${r.main_thread_busy_ms_per_msg} ms/msg`,
    );
  }
  mkdirSync(dirname(values.out!), { recursive: true });
  const out = {
    bench: 'dkim',
    at: new Date().toISOString(),
    node: process.version,
    cores: availableParallelism(),
    message_bytes: message(0).length,
    inline,
    signer: pooled,
  };
  writeFileSync(values.out!, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`wrote ${values.out}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main(process.argv.slice(2));
