import type { Command } from 'commander';
import { type Act, apiClientFor } from '../context.js';
import { CliError } from '../output.js';

/**
 * `postwarden credentials compromise --key <id> | --user <email>`: a client of POST
 * /v1/incidents/credential-compromise on a running server (docs/compliance.md). The server revokes
 * the key (or ends the user's sessions and clears their password and TOTP), rotates the tenant's
 * webhook secrets, lists what the credential sent and opens an incident; the API key this command
 * presents must not be the compromised one, and needs compliance:write plus keys:write or
 * users:write and webhooks:write. The new webhook secrets are printed once.
 */
interface CompromiseWire {
  incident: { id: string; title: string; timeline: { entry: string }[] };
  webhooks: { id: string; secret: string; previous_secret_expires_at: string }[];
  sent: { since: string; until: string; messages: number; recipients: number; message_ids: string[]; truncated: boolean };
}

export function registerCredentials(program: Command, act: Act): void {
  const credentials = program.command('credentials').description('Respond to compromised credentials (a client of the running server)');
  credentials
    .command('compromise')
    .description('Revoke a key or a user’s sign-in, rotate webhook secrets, list what it sent and open an incident')
    .option('--key <id>', 'the compromised API key (key_…), also its SMTP credential')
    .option('--user <email>', 'the compromised user')
    .option('--reason <text>', 'what is known (the incident’s description)')
    .option('--since <iso>', 'start of the window of what it sent (default 30 days ago)')
    .option('--until <iso>', 'end of the window (default now)')
    .option('--clock <regime...>', 'notification clocks of the incident (gdpr, hipaa)')
    .option('--webhook-grace-minutes <n>', 'how long the previous webhook secrets still sign (default 0)')
    .option('--no-rotate-webhooks', 'leave webhook secrets as they are')
    .action(
      act(async (ctx, cmd) => {
        const o = cmd.opts<{
          key?: string;
          user?: string;
          reason?: string;
          since?: string;
          until?: string;
          clock?: string[];
          webhookGraceMinutes?: string;
          rotateWebhooks: boolean;
        }>();
        if ((o.key === undefined) === (o.user === undefined)) throw new CliError('USAGE', 'give exactly one of --key and --user');
        const time = (v: string | undefined, name: string) => {
          if (v === undefined) return undefined;
          if (Number.isNaN(Date.parse(v))) throw new CliError('USAGE', `--${name} must be an ISO time`);
          return new Date(Date.parse(v)).toISOString();
        };
        const grace = o.webhookGraceMinutes === undefined ? undefined : Number(o.webhookGraceMinutes);
        if (grace !== undefined && !(Number.isInteger(grace) && grace >= 0)) {
          throw new CliError('USAGE', '--webhook-grace-minutes must be a whole number of minutes');
        }
        const body = {
          ...(o.key !== undefined ? { key_id: o.key } : { email: o.user }),
          ...(o.reason !== undefined ? { reason: o.reason } : {}),
          ...(o.since !== undefined ? { since: time(o.since, 'since') } : {}),
          ...(o.until !== undefined ? { until: time(o.until, 'until') } : {}),
          ...(o.clock?.length ? { clocks: o.clock } : {}),
          rotate_webhook_secrets: o.rotateWebhooks,
          ...(grace !== undefined ? { webhook_grace_minutes: grace } : {}),
        };
        const answer = (
          await apiClientFor(ctx).request<CompromiseWire>({ method: 'POST', path: '/v1/incidents/credential-compromise', body })
        ).body;
        ctx.out.result(answer, () => [
          `Opened ${answer.incident.id}: ${answer.incident.title}`,
          ...answer.incident.timeline.slice(1).map((t) => `  ${t.entry}`),
          ...answer.sent.message_ids.map((id) => `  sent: ${id}`),
          ...answer.webhooks.map((w) => `  new secret of ${w.id}: ${w.secret}`),
          ...(answer.webhooks.length ? ['  (the new secrets are shown once: give them to the receivers now)'] : []),
        ]);
      }),
    );
}
