#include "mcp/jsonrpc.h"

namespace causeway::mcp {

int nesting_depth(std::string_view text, int limit) {
  int depth = 0;
  int max_depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > max_depth) {
          max_depth = depth;
          if (max_depth > limit) return max_depth;
        }
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return max_depth;
}

namespace {
Message invalid(Json id, int code, std::string message) {
  Message m;
  m.kind = Message::Kind::kInvalid;
  m.id = std::move(id);
  m.error = RpcError{code, std::move(message), nullptr};
  return m;
}

bool valid_id(const Json& id) {
  // MCP narrows JSON-RPC ids to strings and integers (never null).
  return id.is_string() || id.is_number_integer();
}
}  // namespace

Message parse_message(std::string_view text) {
  if (nesting_depth(text, kMaxNestingDepth) > kMaxNestingDepth) {
    return invalid(
        nullptr, kInvalidRequest,
        "Message nests deeper than " + std::to_string(kMaxNestingDepth) + " levels; refused.");
  }
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return invalid(nullptr, kParseError, "Parse error: the line is not valid UTF-8 JSON.");
  }
  if (j.is_array()) {
    return invalid(nullptr, kInvalidRequest,
                   "JSON-RPC batches are not supported by the negotiated MCP revision; send one "
                   "message per line.");
  }
  if (!j.is_object()) {
    return invalid(nullptr, kInvalidRequest, "Invalid request: a message must be a JSON object.");
  }
  Json id = nullptr;
  if (auto it = j.find("id"); it != j.end()) id = *it;
  Json reply_id = valid_id(id) ? id : Json(nullptr);
  auto ver = j.find("jsonrpc");
  if (ver == j.end() || !ver->is_string() || *ver != "2.0") {
    return invalid(reply_id, kInvalidRequest, "Invalid request: \"jsonrpc\" must be \"2.0\".");
  }
  auto method = j.find("method");
  if (method == j.end()) {
    if (j.contains("result") || j.contains("error")) {
      Message m;
      m.kind = Message::Kind::kResponse;
      m.id = id;
      return m;
    }
    return invalid(reply_id, kInvalidRequest, "Invalid request: \"method\" is missing.");
  }
  if (!method->is_string()) {
    return invalid(reply_id, kInvalidRequest, "Invalid request: \"method\" must be a string.");
  }
  Message m;
  m.method = method->get<std::string>();
  if (auto p = j.find("params"); p != j.end()) {
    if (!p->is_object()) {
      // MCP params are always objects; positional (array) params are not used.
      return invalid(reply_id, kInvalidRequest, "Invalid request: \"params\" must be an object.");
    }
    m.params = std::move(*p);
  }
  if (j.contains("id")) {
    if (!valid_id(id)) {
      return invalid(nullptr, kInvalidRequest,
                     "Invalid request: \"id\" must be a string or an integer.");
    }
    m.kind = Message::Kind::kRequest;
    m.id = id;
  } else {
    m.kind = Message::Kind::kNotification;
  }
  return m;
}

Json make_result(const Json& id, Json result) {
  return Json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

Json make_error(const Json& id, const RpcError& error) {
  Json e{{"code", error.code}, {"message", error.message}};
  if (!error.data.is_null()) e["data"] = error.data;
  // JSON-RPC 2.0 requires the member: "id": null when the request's id could not be
  // determined (parse errors, invalid requests). The MCP JSON schema types ids as
  // string|integer, but a client that sent an unparsable line has no id to match anyway.
  return Json{{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(e)}};
}

Json make_notification(std::string method, Json params) {
  Json n{{"jsonrpc", "2.0"}, {"method", std::move(method)}};
  if (!params.is_null()) n["params"] = std::move(params);
  return n;
}

std::string to_wire(const Json& message) {
  return message.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace causeway::mcp
