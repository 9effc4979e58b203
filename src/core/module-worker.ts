import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker thread from a module beside the caller (`name`.js once built, `name`.ts from the
 * sources). Under tsx the thread must load tsx itself: on Node 20 neither tsx's `register()` in the
 * parent (bin/postwarden.mjs) nor `--import tsx` in the thread's execArgv reaches a worker's module
 * loader, so the thread starts from a two-line bootstrap that registers tsx and then imports the module.
 */
export function startModuleWorker(callerUrl: string, name: string, options: WorkerOptions): Worker {
  if (!callerUrl.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, callerUrl), options);
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const entry = JSON.stringify(new URL(`./${name}.ts`, callerUrl).href);
  return new Worker(`import(${tsx}).then(({ register }) => { register(); return import(${entry}); });`, { eval: true, ...options });
}
