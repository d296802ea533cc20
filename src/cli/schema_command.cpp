// `causeway schema`: the trace database schema, generated from the schema in code.
#include <cstdio>
#include <string>

#include "cli/command.h"
#include "store/schema.h"

namespace causeway::cli {
namespace {

void setup_schema(CLI::App& sub, int& exit_code) {
  auto format = std::make_shared<std::string>("text");
  sub.add_option("--format", *format,
                 "text (compact, for people and LLMs), markdown (docs/schema.md) or sql (DDL)")
      ->check(CLI::IsMember({"text", "markdown", "sql"}))
      ->option_text("FORMAT");
  sub.footer(
      "Every table, column (with units) and view of the trace database, with example queries.");
  sub.callback([format, &exit_code] {
    std::string out;
    if (*format == "markdown") {
      out = store::schema_markdown();
    } else if (*format == "sql") {
      out = store::schema_ddl() + ";\n" + store::schema_index_ddl();
    } else {
      out = store::schema_text();
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    if (!out.empty() && out.back() != '\n') std::fputc('\n', stdout);
    exit_code = 0;
  });
}

}  // namespace

CAUSEWAY_COMMAND({"schema", "Print the trace database schema (tables, columns, units, views)", 90,
                  &setup_schema});

}  // namespace causeway::cli
