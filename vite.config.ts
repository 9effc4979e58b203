import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The dashboard (docs/dashboard.md): source in web/, built into dist/web, served by the node at /.
export default defineConfig({
  root: 'web',
  base: '/',
  plugins: [react()],
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    // The CSP allows no inline script: keep the module preload polyfill out of index.html.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: false,
  },
});
