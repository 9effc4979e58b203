import type { Command } from 'commander';
import { systemClock } from '../../core/index.js';
import type { Repositories } from '../../store/index.js';
import type { Act, CliContext } from '../context.js';
import { adminEncryption, cliAudit, configFor, openAdminStore } from '../context.js';
import { CliError, table } from '../output.js';

/**
 * `postwarden encryption …`: envelope encryption at rest (docs/encryption.md), straight on the
 * store the server uses, while it runs. Long operations are jobs in the database worked in bounded
 * batches; a command killed midway (even kill -9) is finished by running it again, or `run`.
 *
 * Each decision (a rotation, BYOK, a shred, sealing old content) is audited as the host operator,
 * in the transaction that records it (docs/governance.md): on the tenant's chain when it names a
 * tenant, else on the platform chain. A job that a command (or `run`) works to its end is recorded
 * too, as `encryption.job_finished` in the transaction of its last batch: the decision says what was
 * started, this entry says when it was done, and by whom.
 */
interface RunFlags {
  batchSize: string;
  pauseMs: string;
}

const runFlags = (c: Command) =>
  c
    .option('--batch-size <n>', 'rows (or keys) per transaction', '100')
    .option('--pause-ms <ms>', 'pause between batches, to leave the database to the traffic', '0');

function positive(text: string, name: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new CliError('USAGE', `${name} must be an integer ≥ ${min}`);
  return n;
}

/** Appends an entry by the command's actor inside the change's transaction (store `InChange`). */
type Recorder = <R>(
  action: string,
  tenantId: string | null,
  resource: (r: R) => { type: string; id?: string | null },
  after: (r: R) => unknown,
) => (tx: Repositories, r: R) => Promise<unknown>;

type AdminStore = Awaited<ReturnType<typeof openAdminStore>>;
type Encryption = Awaited<ReturnType<typeof adminEncryption>>;
type Job = Awaited<ReturnType<AdminStore['encryption']['jobs']>>[number];

/** What a command gets: the store, the keys, and the recorder of its decision. */
interface EncryptionScope {
  store: AdminStore;
  enc: Encryption;
  record: Recorder;
  /** Works every running job to its end, recording each job it finishes. */
  runJobs(flags: RunFlags): Promise<Job[]>;
}

async function withEncryption<T>(ctx: CliContext, fn: (s: EncryptionScope) => Promise<T>) {
  const config = await configFor(ctx);
  const enc = await adminEncryption(config);
  const store = await openAdminStore(ctx, config, enc);
  try {
    const audit = await cliAudit(config, store);
    const record: Recorder = (action, tenantId, resource, after) => (tx, r) =>
      audit.log.append(tx, { actor: ctx.who.actor, tenantId, action, resource: resource(r), after: after(r) });
    const runJobs = async (flags: RunFlags) => {
      const batchSize = positive(flags.batchSize, '--batch-size', 1);
      const pauseMs = positive(flags.pauseMs, '--pause-ms', 0);
      await store.encryption.runJobs(() => systemClock.now(), {
        batchSize,
        pauseMs,
        onBatch: (j) => ctx.out.note(`${j.id} ${j.kind} ${j.stage}: ${j.done} done`),
        // On the job's tenant chain (the platform chain for a job over every tenant).
        onDone: (tx, job) =>
          audit.log.append(tx, {
            actor: ctx.who.actor,
            tenantId: job.tenant_id,
            action: 'encryption.job_finished',
            resource: { type: 'encryption_job', id: job.id },
            after: { kind: job.kind, target: job.target, done: Number(job.done) },
          }),
      });
      return store.encryption.jobs();
    };
    return await fn({ store, enc, record, runJobs });
  } finally {
    await store.close();
  }
}

/** The running re-wrap of every tenant's keys, when a master key rotation left one. */
async function pendingMasterRotation(store: AdminStore): Promise<Job | undefined> {
  return (await store.encryption.jobs()).find((j) => j.kind === 'rewrap' && j.state === 'running' && j.tenant_id === null);
}

/**
 * Makes the KEK a pending master rotation re-wraps to current: a run killed after the rotation was
 * recorded but before the switch is switched here, so `run` does not re-wrap under the old KEK.
 * (A re-wrap started without naming its KEK has the target `current`: nothing to switch.)
 */
function switchTo(enc: Encryption, job: Job | undefined): void {
  if (job && job.target !== 'current') enc.local.use(job.target);
}

export function registerEncryption(program: Command, act: Act): void {
  const enc = program.command('encryption').description('Envelope encryption at rest: coverage, key rotation, crypto-shredding');

  enc
    .command('status')
    .description('Encryption coverage, key-encryption keys in use and jobs')
    .action(
      act((ctx) =>
        withEncryption(ctx, async ({ store, enc: e }) => {
          const coverage = await store.encryption.coverage();
          const keks = await store.encryption.keksInUse();
          const jobs = await store.encryption.jobs();
          const result = { enabled: e.enabled, current_local_kek: e.local.currentKekId(), coverage, keks, jobs };
          ctx.out.result(result, () => [
            `Encryption ${e.enabled ? 'on' : 'off'}; ${(coverage.share * 100).toFixed(1)} % of ${coverage.total} stored content values sealed.`,
            ...table([
              ['TABLE', 'COLUMN', 'SEALED', 'TOTAL'],
              ...coverage.columns.map((c) => [c.table, c.column, String(c.sealed), String(c.total)]),
            ]),
            `Local KEK now: ${e.local.currentKekId()}; data keys per KEK: ${keks.map((k) => `${k.kekId} ${k.keys}`).join(', ') || 'none'}`,
            `Jobs running: ${jobs.filter((j) => j.state === 'running').length}`,
          ]);
        }),
      ),
    );

  runFlags(
    enc
      .command('rotate-master')
      .description('Make a new local key-encryption key current and re-wrap every data key with it (online; rerun resumes)'),
  ).action(
    act((ctx, cmd) =>
      withEncryption(ctx, async ({ store, enc: e, record, runJobs }) => {
        const flags = cmd.opts<RunFlags>();
        // A rewrap left running by a killed run is finished, not started over with yet another key.
        const pending = await pendingMasterRotation(store);
        const kekId = pending?.target ?? e.local.create();
        if (!pending) {
          try {
            await store.encryption.startRewrap(
              systemClock.now(),
              { target: kekId },
              record<string>(
                'encryption.master_key_rotated',
                null,
                () => ({ type: 'kek', id: kekId }),
                (jobId) => ({ kek_id: kekId, job_id: jobId }),
              ),
            );
          } catch (err) {
            // Not recorded, so not made: the new KEK is not current and no job names it, so nothing
            // is wrapped by it yet. Kept only when a job does name it after all (the commit went
            // through before the error) or the store cannot say. A kill -9 before the commit still
            // leaves the file, unused.
            const named = await pendingMasterRotation(store).then(
              (j) => j?.target === kekId,
              () => true,
            );
            if (!named) e.local.discard(kekId);
            throw err;
          }
        }
        // Current only once recorded: new data keys are wrapped by it from now on.
        if (pending) switchTo(e, pending);
        else e.local.use(kekId);
        await runJobs(flags);
        const left = (await store.encryption.keksInUse()).filter((k) => k.kekId !== kekId);
        ctx.out.result({ kek_id: kekId, resumed: !!pending, other_keks: left }, () => [
          `${pending ? 'Resumed' : 'Rotated'}: data keys are wrapped by local KEK ${kekId}.`,
          ...(left.length
            ? [`Still under other KEKs (external or BYOK providers keep theirs): ${left.map((k) => `${k.kekId} ${k.keys}`).join(', ')}`]
            : []),
        ]);
      }),
    ),
  );

  runFlags(
    enc
      .command('rotate-tenant')
      .description("New data key for a tenant's writes; re-encrypts its stored content in the background batches (rerun `run` to resume)")
      .requiredOption('--tenant <id>', 'tenant id (ten_…)'),
  ).action(
    act((ctx, cmd) =>
      withEncryption(ctx, async ({ store, record, runJobs }) => {
        const flags = cmd.opts<RunFlags & { tenant: string }>();
        const r = await store.encryption.rotateTenantKey(
          flags.tenant,
          systemClock.now(),
          record<{ keyId: string; jobId: string }>(
            'encryption.tenant_key_rotated',
            flags.tenant,
            (x) => ({ type: 'data_key', id: x.keyId }),
            (x) => ({ data_key_id: x.keyId, job_id: x.jobId }),
          ),
        );
        const jobs = await runJobs(flags);
        const job = jobs.find((j) => j.id === r.jobId);
        ctx.out.result({ key_id: r.keyId, job }, () => [
          `Tenant ${flags.tenant} now writes with data key ${r.keyId}; re-encrypted ${job?.done ?? 0} rows.`,
        ]);
      }),
    ),
  );

  runFlags(
    enc.command('encrypt-existing').description('Seal content stored before encryption was on, every tenant (bounded batches)'),
  ).action(
    act((ctx, cmd) =>
      withEncryption(ctx, async ({ store, record, runJobs }) => {
        const ids = await store.encryption.encryptExisting(
          systemClock.now(),
          record<string[]>(
            'encryption.existing_content_sealing_started',
            null,
            () => ({ type: 'encryption_job' }),
            (jobs) => ({ jobs }),
          ),
        );
        await runJobs(cmd.opts<RunFlags>());
        const c = await store.encryption.coverage();
        ctx.out.result({ jobs: ids, coverage: c }, () => [
          `${ids.length} tenant(s) worked through; ${(c.share * 100).toFixed(1)} % sealed now.`,
        ]);
      }),
    ),
  );

  runFlags(enc.command('run').description('Finish every encryption job a killed run left (resumable)')).action(
    act((ctx, cmd) =>
      withEncryption(ctx, async ({ store, enc: e, runJobs }) => {
        switchTo(e, await pendingMasterRotation(store));
        const jobs = await runJobs(cmd.opts<RunFlags>());
        ctx.out.result({ jobs }, () => [`${jobs.filter((j) => j.state === 'running').length} job(s) still running.`]);
      }),
    ),
  );

  runFlags(
    enc
      .command('byok')
      .description("Wrap a tenant's data keys with its own key in the external KMS (encryption.external)")
      .requiredOption('--tenant <id>', 'tenant id (ten_…)')
      .option('--key-ref <name>', 'the key in the external KMS; omit with --clear')
      .option('--clear', 'go back to the node default provider'),
  ).action(
    act((ctx, cmd) =>
      withEncryption(ctx, async ({ store, enc: e, record, runJobs }) => {
        const flags = cmd.opts<RunFlags & { tenant: string; keyRef?: string; clear?: boolean }>();
        if (!flags.clear && !flags.keyRef) throw new CliError('USAGE', 'give --key-ref <name> or --clear');
        if (!e.external) throw new CliError('USAGE', 'encryption.external.url is not set: BYOK needs the external KMS');
        const keyRef = flags.clear ? null : (flags.keyRef ?? null);
        await store.encryption.setTenantKmsKey(
          flags.tenant,
          keyRef,
          systemClock.now(),
          // The key's name in the external KMS, not key material.
          record<string>(
            'encryption.tenant_kms_key_set',
            flags.tenant,
            () => ({ type: 'tenant_kms', id: flags.tenant }),
            (jobId) => ({ kms_key_ref: keyRef, job_id: jobId }),
          ),
        );
        await runJobs(flags);
        ctx.out.result({ tenant: flags.tenant, key_ref: flags.clear ? null : flags.keyRef }, () => [
          flags.clear
            ? `Tenant ${flags.tenant} keys are wrapped by the node default again.`
            : `Tenant ${flags.tenant} keys are wrapped by ${flags.keyRef}.`,
        ]);
      }),
    ),
  );

  enc
    .command('shred')
    .description('Destroy every data key of a tenant: its stored content becomes unreadable, for good')
    .requiredOption('--tenant <id>', 'tenant id (ten_…)')
    .requiredOption('--yes', 'confirm: this cannot be undone')
    .action(
      act((ctx, cmd) =>
        withEncryption(ctx, async ({ store, record }) => {
          const { tenant } = cmd.opts<{ tenant: string }>();
          const n = await store.encryption.shredTenant(
            tenant,
            systemClock.now(),
            record<number>(
              'encryption.tenant_shredded',
              tenant,
              () => ({ type: 'tenant', id: tenant }),
              (destroyed) => ({ destroyed_keys: destroyed }),
            ),
          );
          ctx.out.result({ tenant, destroyed_keys: n }, () => [
            `Destroyed ${n} data key(s) of ${tenant}; its sealed content reads as unreadable.`,
          ]);
        }),
      ),
    );
}
