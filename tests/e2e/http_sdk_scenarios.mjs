// The official TypeScript SDK (@anthropic-ai/sdk) against Tollgate's HTTP door, unchanged except
// baseURL and key. Run by tests/e2e/test_e2e_http_ts_sdk.py:
//   node http_sdk_scenarios.mjs <phase>   (env: SDK_DIR, BASE_URL, API_KEY)
// Prints one JSON object of what each scenario observed; the Python test asserts on it.
import { createRequire } from "node:module";

const require = createRequire(`${process.env.SDK_DIR}/`);
const { default: Anthropic } = await import(require.resolve("@anthropic-ai/sdk"));

const client = new Anthropic({
  baseURL: process.env.BASE_URL,
  apiKey: process.env.API_KEY,
  maxRetries: 0,
});
const MODEL = "claude-sonnet-5-5";
// Tollgate caches only deterministic answers: temperature 0 rides along in the body.
const ask = (content, extra = {}) => ({
  model: MODEL,
  max_tokens: 1000,
  temperature: 0,
  messages: [{ role: "user", content }],
  ...extra,
});

async function failure(call) {
  try {
    await call();
    return { status: 0 };
  } catch (error) {
    return {
      status: error.status ?? -1,
      class: error.constructor.name,
      type: error.error?.error?.type ?? null,
      retryAfter: error.headers?.get?.("retry-after") ?? null,
    };
  }
}

async function main() {
  const out = {};
  const phase = process.argv[2];
  if (phase === "main") {
    const first = await client.messages.create(ask("Which schools are near Elm Street?")).withResponse();
    const second = await client.messages.create(ask("Which schools are near Elm Street?")).withResponse();
    out.message = {
      text: first.data.content[0].text,
      stopReason: first.data.stop_reason,
      cache: first.response.headers.get("x-tollgate-cache"),
      costMicros: first.response.headers.get("x-tollgate-cost-micros"),
    };
    out.repeat = {
      text: second.data.content[0].text,
      cache: second.response.headers.get("x-tollgate-cache"),
      savedMicros: second.response.headers.get("x-tollgate-saved-micros"),
    };
    const stream = client.messages.stream(ask("Describe the garden of 12 Birch Lane."));
    let streamed = "";
    const kinds = [];
    stream.on("text", (text) => (streamed += text));
    stream.on("streamEvent", (event) => kinds.push(event.type));
    const final = await stream.finalMessage();
    out.stream = { streamed, final: final.content[0].text, stopReason: final.stop_reason, kinds };
    const tool = {
      name: "get_weather",
      description: "The weather in a city",
      input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    };
    const toolAsk = ask("Use get_weather: what is it like in Paris?", { tools: [tool] });
    const called = await client.messages.create(toolAsk);
    const toolStream = await client.messages.stream(toolAsk).finalMessage();
    const use = called.content.find((block) => block.type === "tool_use");
    const streamedUse = toolStream.content.find((block) => block.type === "tool_use");
    out.toolUse = {
      stopReason: called.stop_reason,
      name: use?.name,
      sameInput: JSON.stringify(use?.input) === JSON.stringify(streamedUse?.input),
    };
    out.countTokens = (
      await client.messages.countTokens({ model: MODEL, messages: toolAsk.messages })
    ).input_tokens;
    out.models = [];
    for await (const model of client.models.list()) out.models.push(model.id);
    const batch = await client.messages.batches.create({
      requests: [
        { custom_id: "a", params: { model: MODEL, max_tokens: 100, messages: [{ role: "user", content: "Hi" }] } },
        { custom_id: "b", params: { model: MODEL, max_tokens: 100, messages: [{ role: "user", content: "Bye" }] } },
      ],
    });
    let state = batch;
    for (let i = 0; i < 200 && state.processing_status !== "ended"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      state = await client.messages.batches.retrieve(batch.id);
    }
    const results = [];
    for await (const entry of await client.messages.batches.results(batch.id)) {
      results.push([entry.custom_id, entry.result.type]);
    }
    out.batch = { status: state.processing_status, results: results.sort() };
    out.errors = {
      unauthenticated: await failure(() =>
        new Anthropic({ baseURL: process.env.BASE_URL, apiKey: "tg_nope", maxRetries: 0 }).messages.create(ask("Hi")),
      ),
      badRequest: await failure(() => client.messages.create(ask("Hi", { max_tokens: 0 }))),
      notFound: await failure(() => client.models.retrieve("claude-unknown")),
      tooLarge: await failure(() => client.messages.create(ask("x".repeat(5 * 1024 * 1024)))),
    };
  } else if (phase === "refused") {
    out.refused = await failure(() => client.messages.create(ask("Anything new on Oak Street?")));
  } else if (phase === "overloaded") {
    out.overloaded = await failure(() => client.messages.create(ask("Are you there?", { temperature: 0.5 })));
  }
  process.stdout.write(JSON.stringify(out));
}

await main();
