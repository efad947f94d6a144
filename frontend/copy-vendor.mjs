// Copies the files the pages load from node_modules into the package's static files,
// with each library's licence. Run after `npm ci`: `npm run vendor`.
import { copyFileSync, mkdirSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const target = join(here, "..", "src", "lastmile", "service", "web", "static", "vendor");

// library folder in static/vendor -> [npm package, files to copy (relative to the package)]
const LIBRARIES = {
  "swagger-ui": ["swagger-ui-dist", ["swagger-ui-bundle.js", "swagger-ui.css", "LICENSE"]],
  leaflet: [
    "leaflet",
    [
      "dist/leaflet.js",
      "dist/leaflet.css",
      "dist/images/layers.png",
      "dist/images/layers-2x.png",
      "dist/images/marker-icon.png",
      "dist/images/marker-icon-2x.png",
      "dist/images/marker-shadow.png",
      "LICENSE",
    ],
  ],
};

const versions = {};
for (const [folder, [pkg, files]] of Object.entries(LIBRARIES)) {
  const source = join(here, "node_modules", pkg);
  const out = join(target, folder);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  for (const file of files) {
    mkdirSync(dirname(join(out, file)), { recursive: true });
    copyFileSync(join(source, file), join(out, file));
  }
  versions[folder] = `${pkg}@${JSON.parse(readFileSync(join(source, "package.json"))).version}`;
}
// For the browser tests only (accessibility checks), not served by the app.
const tests = join(here, "..", "tests", "browser", "vendor");
mkdirSync(tests, { recursive: true });
for (const file of ["axe.min.js", "LICENSE"]) {
  copyFileSync(join(here, "node_modules", "axe-core", file), join(tests, file === "LICENSE" ? "axe-core.LICENSE" : file));
}

writeFileSync(join(target, "VERSIONS.json"), JSON.stringify(versions, null, 2) + "\n");
console.log(`copied ${Object.keys(LIBRARIES).length} libraries into ${target}`);
