import { defineConfig } from "vite";

// esbuild compiles the JSX (React's automatic runtime), so the page needs no
// extra Vite plugin. `base: "./"` keeps every asset URL relative: the same
// build works at any path, including `wsgate dev`'s root and a CDN prefix.
export default defineConfig({
  base: "./",
  esbuild: { jsx: "automatic" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // The dotnetify bundle pulls in @microsoft/signalr even in WebSocket mode.
    chunkSizeWarningLimit: 1024,
  },
});
