// describe_schema: the trace database explained for an LLM that has never seen it. The text
// comes from the store's schema-as-code, so it cannot drift from the real tables.
#include "mcp/tool.h"
#include "store/schema.h"

namespace causeway::mcp {
namespace {

Json columns_json(const std::vector<store::ColumnDef>& cols) {
  Json out = Json::array();
  for (const auto& c : cols) {
    Json col{{"name", c.name}, {"type", c.type}, {"meaning", c.meaning}};
    if (!c.unit.empty()) col["unit"] = c.unit;
    out.push_back(std::move(col));
  }
  return out;
}

std::string columns_text(const std::vector<store::ColumnDef>& cols) {
  std::string out;
  for (const auto& c : cols) {
    out += "  " + std::string(c.name) + " " + std::string(c.type);
    if (!c.unit.empty()) out += " [" + std::string(c.unit) + "]";
    out += ": " + std::string(c.meaning) + "\n";
  }
  return out;
}

Result<ToolOutput> run(const Json& args, ToolContext&) {
  const store::Schema& s = store::schema();
  std::string only = args.value("table", std::string());
  Json tables = Json::array();
  std::string text;
  for (const auto& v : s.views) {
    if (!only.empty() && only != v.name) continue;
    tables.push_back(Json{{"name", v.name},
                          {"kind", "view"},
                          {"meaning", v.meaning},
                          {"columns", columns_json(v.columns)}});
    text += std::string(v.name) + " (view) -- " + std::string(v.meaning) + "\n" +
            columns_text(v.columns);
  }
  for (const auto& t : s.tables) {
    if (!only.empty() && only != t.name) continue;
    tables.push_back(Json{{"name", t.name},
                          {"kind", "table"},
                          {"meaning", t.meaning},
                          {"columns", columns_json(t.columns)}});
    text += std::string(t.name) + " (table) -- " + std::string(t.meaning) + "\n" +
            columns_text(t.columns);
  }
  if (!only.empty() && tables.empty()) {
    std::string names;
    for (const auto& v : s.views) names += (names.empty() ? "" : ", ") + std::string(v.name);
    for (const auto& t : s.tables) names += ", " + std::string(t.name);
    return Status::Error("No table or view named " + quote(only) + "; known: " + names + ".");
  }
  Json examples = Json::array();
  for (const auto& e : s.examples)
    examples.push_back(Json{{"question", e.question}, {"sql", e.sql}});
  Json meta = Json::array();
  for (const auto& m : s.meta_keys) {
    meta.push_back(Json{{"key", m.key}, {"unit", m.unit}, {"meaning", m.meaning}});
  }
  Json conventions = Json::array();
  for (const auto& c : s.conventions) conventions.push_back(c);
  Json out{{"schema_version", s.version}, {"tables", std::move(tables)}};
  if (only.empty()) {
    out["conventions"] = std::move(conventions);
    out["meta_keys"] = std::move(meta);
    out["examples"] = std::move(examples);
    text = store::schema_text();  // the full document, in the store's own order and words
  }
  return ToolOutput{std::move(out), std::move(text)};
}

}  // namespace

ToolDef describe_schema_tool() {
  ToolDef t;
  t.name = "describe_schema";
  t.title = "Describe the trace database";
  t.description =
      "Explain the trace database for writing run_sql queries: conventions (units, ids, "
      "timestamps), every view and table with its columns, units and meaning, the meta keys and "
      "example queries. Pass `table` for one table or view only.";
  t.input_schema = Json::parse(R"({
    "type": "object",
    "properties": {
      "table": {"type": "string", "description": "Only this table or view, e.g. thread_states."}
    },
    "additionalProperties": false
  })");
  t.output_schema = Json::parse(R"({
    "type": "object",
    "properties": {
      "schema_version": {"type": "integer"},
      "conventions": {"type": "array", "items": {"type": "string"}},
      "tables": {"type": "array", "items": {
        "type": "object",
        "properties": {
          "name": {"type": "string"}, "kind": {"type": "string", "enum": ["table", "view"]},
          "meaning": {"type": "string"},
          "columns": {"type": "array", "items": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "type": {"type": "string"},
                           "unit": {"type": "string"}, "meaning": {"type": "string"}},
            "required": ["name", "type", "meaning"]}}
        },
        "required": ["name", "kind", "meaning", "columns"]}},
      "meta_keys": {"type": "array", "items": {"type": "object"}},
      "examples": {"type": "array", "items": {
        "type": "object",
        "properties": {"question": {"type": "string"}, "sql": {"type": "string"}},
        "required": ["question", "sql"]}}
    },
    "required": ["schema_version", "tables"]
  })");
  t.run = run;
  return t;
}

}  // namespace causeway::mcp
