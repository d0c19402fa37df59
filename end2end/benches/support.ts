import { type Page } from "@playwright/test";
import { readdirSync, readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";

// What the browser benchmarks share: the sandbox cluster's API (reached with its kubeconfig, as
// kubectl reaches it), an observer of the page, and the figures they print.

const KUBECONFIG = process.env.ROLLGATE_SANDBOX_KUBECONFIG ?? "/tmp/rollgate-sandbox/kubeconfig";

export type Cluster = { server: URL; ca: Buffer; token: string };

export function cluster(): Cluster {
  const text = readFileSync(KUBECONFIG, "utf8");
  const field = (name: string) => text.match(new RegExp(`${name}: (\\S+)`))![1];
  return {
    server: new URL(field("server")),
    ca: Buffer.from(field("certificate-authority-data"), "base64"),
    token: field("token"),
  };
}

/** One request to the cluster's API; resolves with the JSON answer, rejects on an error status. */
export function call(
  c: Cluster,
  method: string,
  path: string,
  body?: unknown,
  contentType = "application/json",
): Promise<any> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? "" : JSON.stringify(body);
    const req = httpsRequest(
      {
        host: c.server.hostname,
        port: c.server.port,
        method,
        path,
        ca: c.ca,
        headers: {
          authorization: `Bearer ${c.token}`,
          "content-type": contentType,
          "content-length": Buffer.byteLength(text),
        },
      },
      (res) => {
        let data = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => (data += chunk));
        res.on("end", () =>
          res.statusCode! < 300
            ? resolve(JSON.parse(data))
            : reject(Object.assign(new Error(`${method} ${path}: ${res.statusCode} ${data}`), { status: res.statusCode })),
        );
      },
    );
    req.on("error", reject);
    req.end(text);
  });
}

/** Scales a deployment as `kubectl scale` does (a merge patch of its scale subresource). */
export async function scale(c: Cluster, replicas: number, name = "checkout-api", namespace = "staging"): Promise<void> {
  await call(
    c,
    "PATCH",
    `/apis/apps/v1/namespaces/${namespace}/deployments/${name}/scale`,
    { spec: { replicas } },
    "application/merge-patch+json",
  );
}

/** Watches deployments on the cluster (`query` narrows it), handing each object over with the
 * time its event arrived. */
export function watchDeployments(c: Cluster, query: string, seen: (object: any, at: number) => void): () => void {
  const req = httpsRequest(
    {
      host: c.server.hostname,
      port: c.server.port,
      path: `/apis/apps/v1/namespaces/staging/deployments?watch=1${query}`,
      ca: c.ca,
      headers: { authorization: `Bearer ${c.token}` },
    },
    (res) => {
      let buffer = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        const now = Date.now();
        buffer += chunk;
        let newline;
        while ((newline = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          if (line.trim()) seen(JSON.parse(line).object, now);
        }
      });
    },
  );
  req.on("error", () => {});
  req.end();
  return () => req.destroy();
}

export function summary(name: string, samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const line = `${name} over ${sorted.length} samples (ms): median ${at(0.5)}, p95 ${at(0.95)}, max ${sorted[sorted.length - 1]}`;
  // Every sample while they fit a few lines; past that the summary says enough.
  return sorted.length <= 100 ? `${line}\n  samples (ms, sorted): ${sorted.join(" ")}` : line;
}

/** What the page should show: a selector matching, a number of rows, or the first row. */
export type Wanted = { selector: string } | { rows: number } | { first: string; is: boolean };

/** Milliseconds from `act` until the page shows `wanted`, observed in the page. */
export async function untilShown(page: Page, wanted: Wanted, act: () => Promise<void>): Promise<number> {
  const shown = page.evaluate(
    (wanted) =>
      new Promise<number>((resolve) => {
        const done = () => {
          if ("selector" in wanted) return document.querySelector(wanted.selector) !== null;
          const rows = document.querySelectorAll("tr[data-deployment]");
          if ("rows" in wanted) return rows.length === wanted.rows;
          return (rows[0]?.getAttribute("data-deployment") === wanted.first) === wanted.is;
        };
        const observer = new MutationObserver(() => {
          if (done()) {
            observer.disconnect();
            resolve(Date.now());
          }
        });
        observer.observe(document.body, { subtree: true, childList: true, attributes: true });
      }),
    wanted,
  );
  await page.waitForTimeout(50);
  const started = Date.now();
  await act();
  return (await shown) - started;
}

/** A process's memory from /proc, in MB: resident (and its peak), and its own (private) pages,
 * what Chromium's task manager calls its memory footprint: the resident figure also counts
 * the browser's shared libraries. */
export function memory(pid: number): { rss: number; peak: number; private: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (text: string, field: string) => Number(text.match(new RegExp(`${field}:\\s+(\\d+) kB`))?.[1] ?? NaN);
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const own = kb(rollup, "Private_Clean") + kb(rollup, "Private_Dirty");
  return { rss: kb(status, "VmRSS") / 1024, peak: kb(status, "VmHWM") / 1024, private: own / 1024 };
}

/** Chromium's renderer processes for pages (not for its own interface or extensions). */
export function renderers(): number[] {
  return readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        const cmdline = readFileSync(`/proc/${p}/cmdline`, "utf8");
        return (
          cmdline.includes("--type=renderer") &&
          !cmdline.includes("--extension-process") &&
          !cmdline.includes("--top-chrome-webui")
        );
      } catch {
        return false;
      }
    })
    .map(Number);
}
