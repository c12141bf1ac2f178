/** Builds the dashboard into dist/dashboard (`npm run build`); every node serves it at `/`. */
import { fileURLToPath } from 'node:url'
import preact from '@preact/preset-vite'
import { defineConfig } from 'vite'

const here = fileURLToPath(new URL('.', import.meta.url))

export default defineConfig({
  root: here,
  base: './',
  plugins: [preact()],
  logLevel: 'warn',
  build: { outDir: fileURLToPath(new URL('../../dist/dashboard', import.meta.url)), emptyOutDir: true },
})
