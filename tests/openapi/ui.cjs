// tests/api_docs_test.sh's Swagger UI check, in headless Chromium (Debian's
// chromium, driven by playwright-core): the page loads from the gateway,
// reads /q/openapi, shows every operation, and a "Try it out" call of a GET
// route is answered by the gateway. Lines "ok WHAT" / "FAIL WHAT: why".
//
//   node ui.cjs GATEWAY_URL OPERATIONS SHOT_DIR [CHROMIUM]
"use strict";
const { chromium } = require("playwright-core");

const [gw, operations, shots, exe] = process.argv.slice(2);
const ROUTE = "/api/v11/transactions/stats";
let failures = 0;
const ok = (what) => console.log(`ok ${what}`);
const fail = (what, why) => {
  failures++;
  console.log(`FAIL ${what}: ${String(why).replace(/\s+/g, " ").slice(0, 600)}`);
};
const check = (what, cond, why) => (cond ? ok(what) : fail(what, why || "false"));

async function main() {
  const browser = await chromium.launch({
    executablePath: exe || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
    timeout: 60000,
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.setDefaultTimeout(30000);
    const outside = [], errors = [], seen = [];
    page.on("request", (r) => {
      const u = new URL(r.url());
      seen.push(u.pathname + u.search);
      if (u.protocol.startsWith("http") && !["127.0.0.1", "localhost", "[::1]"].includes(u.hostname)) outside.push(r.url());
    });
    page.on("pageerror", (e) => errors.push(e.message));

    const res = await page.goto(`${gw}/q/swagger-ui`, { waitUntil: "load" });
    check("GET /q/swagger-ui lands on /q/swagger-ui/ (200)", res.status() === 200 && page.url() === `${gw}/q/swagger-ui/`,
      `${res.status()} ${page.url()}`);
    await page.waitForSelector(".swagger-ui .info .title");
    const title = await page.textContent(".swagger-ui .info .title");
    check("the page shows the document's title", title.includes("aurigraph-gateway"), title);
    check("the UI read the document from /q/openapi", seen.some((p) => p.startsWith("/q/openapi")), seen.join(" "));
    await page.waitForSelector(".opblock");
    const blocks = await page.locator(".opblock").count();
    check(`the page lists every operation (${blocks})`, blocks === Number(operations), `${blocks} != ${operations}`);
    await page.screenshot({ path: `${shots}/swagger-ui.png` });

    const block = page.locator(`.opblock.opblock-get:has(.opblock-summary-path[data-path="${ROUTE}"])`);
    check(`GET ${ROUTE} is on the page`, (await block.count()) === 1, await block.count());
    await block.locator(".opblock-summary").first().click();
    await block.locator("button.try-out__btn").click();
    await block.locator("button.execute").click();
    const status = block.locator(".live-responses-table .response .response-col_status").first();
    await status.waitFor();
    const code = (await status.textContent()).trim();
    const body = (await block.locator(".live-responses-table .response-col_description pre").first().textContent()) || "";
    const url = (await block.locator(".request-url pre").first().textContent()) || "";
    check(`"Try it out" on GET ${ROUTE}: the gateway answered 200`, code === "200", code);
    check("... with the service's JSON", /"pendingTransactions"\s*:\s*\d+/.test(body), body.slice(0, 200));
    check("... from the gateway's own URL", url.trim() === `${gw}${ROUTE}`, url);
    await block.scrollIntoViewIfNeeded();
    await block.screenshot({ path: `${shots}/swagger-ui-try-it-out.png` });
    check("no request left the machine (no validator badge, no CDN)", outside.length === 0, outside.join(" "));
    check("no script error on the page", errors.length === 0, errors.join(" | "));
  } finally {
    await browser.close();
  }
}

main()
  .then(() => process.exit(failures ? 1 : 0))
  .catch((e) => {
    console.log(`FAIL ui.cjs crashed: ${e.stack}`);
    process.exit(1);
  });
