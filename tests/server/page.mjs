// Drives the chat page of `serve` in headless Chromium (puppeteer-core): the page loads without
// console errors, shows the model, streams an answer (TTFT and tok/s shown), the system prompt
// and settings go into the request, and Stop ends a stream early. argv: URL CHROMIUM
import { createRequire } from "node:module";
import path from "node:path";
const require = createRequire(path.join(process.env.PUPPETEER_NPM_DIR, "node_modules", "x.js"));
const puppeteer = require("puppeteer-core");
const [url, chrome] = process.argv.slice(2);
const fail = (m) => { console.log("FAIL: " + m); process.exit(1); };
const browser = await puppeteer.launch({ executablePath: chrome, headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage"] });
try {
  const page = await browser.newPage();
  const errors = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  const bodies = [];
  page.on("request", (r) => { if (r.method() === "POST") bodies.push(JSON.parse(r.postData() || "{}")); });
  await page.goto(url + "/", { waitUntil: "networkidle0" });
  await page.waitForFunction(() => document.getElementById("model").textContent.includes("tiny"), { timeout: 10000 });
  // a streamed answer
  await page.evaluate(() => { document.getElementById("sys").value = "Be brief."; document.getElementById("temp").value = "0";
                              document.getElementById("maxt").value = "40"; });
  await page.type("#in", "Once upon a time");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => !document.getElementById("send").disabled && document.querySelectorAll(".msg.assistant").length === 1 &&
                                   document.querySelector(".msg.assistant").textContent.length > 10, { timeout: 30000 });
  const answer = await page.$eval(".msg.assistant", (e) => e.textContent);
  const stats = await page.$eval("#stats", (e) => e.textContent);
  if (!/TTFT [0-9.]+ s/.test(stats) || !/tok\/s/.test(stats)) fail("stats: " + stats);
  const b = bodies[0];
  if (!b || !b.stream || b.temperature !== 0 || b.max_tokens !== 40 || b.messages[0].role !== "system" || b.messages[0].content !== "Be brief." ||
      b.messages[1].content !== "Once upon a time") fail("request body " + JSON.stringify(b));
  // the same text as the API gives for that request
  const api = await (await fetch(url + "/v1/chat/completions", { method: "POST", headers: { "Content-Type": "application/json" },
                                                              body: JSON.stringify({ ...b, stream: false }) })).json();
  if (api.choices[0].message.content !== answer) fail("page text differs from the API's: " + JSON.stringify([answer, api.choices[0].message.content]));
  // stop: a long answer, stopped after it started
  await page.evaluate(() => { document.getElementById("maxt").value = "400"; document.getElementById("temp").value = "1"; });
  await page.type("#in", "Tell me more");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelectorAll(".msg.assistant")[1] && document.querySelectorAll(".msg.assistant")[1].textContent.length > 0,
                             { timeout: 30000 });
  await page.click("#stop");
  await page.waitForFunction(() => !document.getElementById("send").disabled, { timeout: 10000 });
  const stopped = await page.evaluate(() => document.querySelectorAll(".msg.assistant")[1].textContent);
  // markdown code blocks render as <pre>
  await page.evaluate(() => { const d = document.createElement("div"); d.id = "md"; document.body.appendChild(d); });
  const pre = await page.evaluate(() => { /* render() is the page's own */ document.getElementById("md").innerHTML = render("a ```js\nx<1\n``` b `c`");
                                          return document.getElementById("md").innerHTML; });
  if (!pre.includes("<pre><code>x&lt;1\n</code></pre>") || !pre.includes("<code>c</code>")) fail("markdown: " + pre);
  if (errors.length) fail("console errors: " + errors.join(" | "));
  console.log("page ok: answer " + JSON.stringify(answer.slice(0, 40)) + "; stopped after " + stopped.length + " chars; " + stats);
} finally {
  await browser.close();
}
