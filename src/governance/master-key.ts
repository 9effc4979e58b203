import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The node master key: 32 random bytes, base64, in a file only its owner can read (0600). It
 * encrypts private keys at rest and signs return paths, so losing it loses those; it is created on
 * first start and never rewritten. A file readable by others is refused rather than used.
 */
export function loadOrCreateMasterKey(file: string): { key: Buffer; created: boolean } {
  try {
    const st = statSync(file);
    if ((st.mode & 0o077) !== 0) {
      throw new Error(
        `master key file ${file} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); run chmod 600 ${file}`,
      );
    }
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    if (key.length !== 32) throw new Error(`master key file ${file} must hold 32 bytes in base64`);
    return { key, created: false };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  mkdirSync(dirname(file), { recursive: true });
  const key = randomBytes(32);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  renameSync(tmp, file);
  return { key, created: true };
}
