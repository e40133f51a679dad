// Run bench/vm/heap_modules.py on the 32-bit MicroPython webassembly port (node, npm package
// @micropython/micropython-webassembly-pyscript), the firmware's .mpy files copied into its
// in-memory filesystem. argv: package's micropython.mjs, .mpy directory, modules (a,b,c).
import fs from "fs";
import path from "path";
import url from "url";

const [mjs, libDir, modules] = process.argv.slice(2);
const { loadMicroPython } = await import(url.pathToFileURL(mjs).href);
const mp = await loadMicroPython({ heapsize: 4 * 1024 * 1024,
  stdout: (line) => process.stdout.write(line + "\n") });
function copy(src, dst) {
  for (const name of fs.readdirSync(src)) {
    const s = path.join(src, name), d = dst + "/" + name;
    if (fs.statSync(s).isDirectory()) { mp.FS.mkdir(d); copy(s, d); }
    else mp.FS.writeFile(d, fs.readFileSync(s));
  }
}
mp.FS.mkdir("/lib");
copy(libDir, "/lib");
const here = path.dirname(url.fileURLToPath(import.meta.url));
mp.runPython("import sys; sys.path.insert(0, '/lib'); MODULES = '" + modules + "'");
mp.runPython(fs.readFileSync(path.join(here, "heap_modules.py"), "utf8"));
