// npm run bench -- NAME [options]: runs one benchmark, prints figures, writes JSON.
const name = process.argv[2];
const benches: Record<string, () => Promise<{ main(argv: string[]): Promise<void> }>> = {
  accept: () => import('./accept.js'),
  classify: () => import('./classify.js'),
  deliver: () => import('./deliver.js'),
  fsync: () => import('./fsync.js'),
  webhooks: () => import('./webhooks.js'),
};
const load = name ? benches[name] : undefined;
if (!load) {
  console.error(`usage: npm run bench -- <${Object.keys(benches).join('|')}> [options]   (see bench/README.md)`);
  process.exit(64);
}
await (await load()).main(process.argv.slice(3));
