// Runs one query with Comunica against a SPARQL endpoint and prints the result as JSON.
// usage: node comunica.mjs ENDPOINT 'QUERY'
import { QueryEngine } from "@comunica/query-sparql";

const [endpoint, query] = process.argv.slice(2);
const engine = new QueryEngine();
const context = { sources: [{ type: "sparql", value: endpoint }] };
const result = await engine.query(query, context);
let output;
if (result.resultType === "bindings") {
  const bindings = await (await result.execute()).toArray();
  output = { type: "bindings", rows: bindings.map((b) => Object.fromEntries([...b].map(([k, v]) => [k.value, v.value]))) };
} else if (result.resultType === "boolean") {
  output = { type: "boolean", value: await result.execute() };
} else {
  const quads = await (await result.execute()).toArray();
  output = { type: "quads", quads: quads.map((q) => [q.subject.value, q.predicate.value, q.object.value]) };
}
console.log(JSON.stringify(output));
