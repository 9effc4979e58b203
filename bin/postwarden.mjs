#!/usr/bin/env node
// Postwarden runs from its TypeScript sources through tsx (a dependency); there is no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
