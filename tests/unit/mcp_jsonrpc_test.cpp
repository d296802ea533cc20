// JSON-RPC core: message parsing, error codes, hostile input; SHA-256 vectors; argument
// validation.
#include <gtest/gtest.h>

#include "mcp/arg_check.h"
#include "mcp/jsonrpc.h"
#include "mcp/sha256.h"

namespace causeway::mcp {
namespace {

TEST(mcp_jsonrpc, ParsesRequestNotificationAndResponse) {
  auto r = parse_message(R"({"jsonrpc":"2.0","id":7,"method":"ping"})");
  EXPECT_EQ(r.kind, Message::Kind::kRequest);
  EXPECT_EQ(r.id, 7);
  EXPECT_EQ(r.method, "ping");
  auto s = parse_message(R"({"jsonrpc":"2.0","id":"a-1","method":"tools/list","params":{}})");
  EXPECT_EQ(s.kind, Message::Kind::kRequest);
  EXPECT_EQ(s.id, "a-1");
  auto n = parse_message(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  EXPECT_EQ(n.kind, Message::Kind::kNotification);
  auto resp = parse_message(R"({"jsonrpc":"2.0","id":1,"result":{}})");
  EXPECT_EQ(resp.kind, Message::Kind::kResponse);
}

TEST(mcp_jsonrpc, MalformedJsonIsParseError) {
  for (const char* bad : {"{", "not json", "{\"jsonrpc\":\"2.0\",", "", "\x01\x02"}) {
    auto m = parse_message(bad);
    EXPECT_EQ(m.kind, Message::Kind::kInvalid) << bad;
    EXPECT_EQ(m.error.code, kParseError) << bad;
    EXPECT_TRUE(m.id.is_null());
  }
}

TEST(mcp_jsonrpc, InvalidUtf8IsParseError) {
  std::string s =
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"x\":\"\xff\xfe\"}}";
  auto m = parse_message(s);
  EXPECT_EQ(m.error.code, kParseError);
  std::string overlong = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xc0\xaf\"}";
  EXPECT_EQ(parse_message(overlong).error.code, kParseError);
}

TEST(mcp_jsonrpc, WrongShapesAreInvalidRequest) {
  struct Case {
    const char* text;
    bool keeps_id;
  } cases[] = {
      {R"([])", false},
      {R"(42)", false},
      {R"("str")", false},
      {R"({"id":1,"method":"ping"})", true},                            // no jsonrpc
      {R"({"jsonrpc":"1.0","id":1,"method":"ping"})", true},            // wrong version
      {R"({"jsonrpc":2.0,"id":1,"method":"ping"})", true},              // version not a string
      {R"({"jsonrpc":"2.0","id":1})", true},                            // no method
      {R"({"jsonrpc":"2.0","id":1,"method":5})", true},                 // method not a string
      {R"({"jsonrpc":"2.0","id":1,"method":"x","params":[1]})", true},  // positional params
      {R"({"jsonrpc":"2.0","id":null,"method":"ping"})", false},        // null id
      {R"({"jsonrpc":"2.0","id":1.5,"method":"ping"})", false},         // fractional id
      {R"({"jsonrpc":"2.0","id":{},"method":"ping"})", false},          // object id
  };
  for (const auto& c : cases) {
    auto m = parse_message(c.text);
    EXPECT_EQ(m.kind, Message::Kind::kInvalid) << c.text;
    EXPECT_EQ(m.error.code, kInvalidRequest) << c.text;
    EXPECT_EQ(!m.id.is_null(), c.keeps_id) << c.text;
  }
}

TEST(mcp_jsonrpc, BatchesAreRefused) {
  auto m = parse_message(R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])");
  EXPECT_EQ(m.error.code, kInvalidRequest);
  EXPECT_NE(m.error.message.find("batch"), std::string::npos);
}

TEST(mcp_jsonrpc, DeepNestingIsRefusedWithoutRecursion) {
  std::string deep(1'000'000, '[');  // would overflow a recursive parser's stack
  auto m = parse_message(deep);
  EXPECT_EQ(m.error.code, kInvalidRequest);
  std::string ok = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"a\":" +
                   std::string(40, '[') + std::string(40, ']') + "}}";
  EXPECT_EQ(parse_message(ok).kind, Message::Kind::kRequest);
  // Brackets inside strings do not count.
  std::string in_string =
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"" + std::string(500, '[') + "\"}";
  EXPECT_EQ(parse_message(in_string).kind, Message::Kind::kRequest);
  EXPECT_EQ(nesting_depth(R"({"a":"\"[[[["})", 10), 1);
}

TEST(mcp_jsonrpc, ResponsesAndErrorsAreWellFormed) {
  auto r = make_result(3, Json{{"x", 1}});
  EXPECT_EQ(r["jsonrpc"], "2.0");
  EXPECT_EQ(r["id"], 3);
  auto e = make_error(nullptr, RpcError{kParseError, "Parse error.", nullptr});
  // JSON-RPC 2.0: an error whose request id is unknown carries "id": null.
  ASSERT_TRUE(e.contains("id"));
  EXPECT_TRUE(e["id"].is_null());
  EXPECT_EQ(to_wire(e).find("\"id\":null") != std::string::npos, true);
  EXPECT_EQ(e["error"]["code"], -32700);
  EXPECT_FALSE(e["error"].contains("data"));
}

TEST(mcp_jsonrpc, WireOutputReplacesInvalidUtf8) {
  Json j = {{"s", std::string("ok\xff\xfe")}};
  std::string wire = to_wire(j);
  EXPECT_EQ(wire.find('\n'), std::string::npos);
  EXPECT_TRUE(Json::parse(wire, nullptr, false).is_object());
}

TEST(mcp_sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1'000'000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  Sha256 chunked;
  for (int i = 0; i < 1000; ++i) chunked.update(std::string(1000, 'a'));
  auto d = chunked.finish();
  EXPECT_EQ(d[0], 0xcd);
}

TEST(mcp_arg_check, ValidatesTheToolSubset) {
  Json schema = Json::parse(R"({
    "type": "object",
    "properties": {
      "sql": {"type": "string", "minLength": 1},
      "max_rows": {"type": "integer", "minimum": 1, "maximum": 10000},
      "kind": {"type": "string", "enum": ["a", "b"]},
      "list": {"type": "array", "items": {"type": "string"}}
    },
    "required": ["sql"],
    "additionalProperties": false
  })");
  EXPECT_EQ(check_arguments(schema, Json{{"sql", "select 1"}}), "");
  EXPECT_NE(check_arguments(schema, Json::object()).find("missing required argument sql"),
            std::string::npos);
  EXPECT_NE(check_arguments(schema, Json{{"sql", 5}}).find("type"), std::string::npos);
  EXPECT_NE(check_arguments(schema, Json{{"sql", "x"}, {"max_rows", 0}}).find("at least"),
            std::string::npos);
  EXPECT_NE(check_arguments(schema, Json{{"sql", "x"}, {"max_rows", 10001}}).find("at most"),
            std::string::npos);
  EXPECT_NE(check_arguments(schema, Json{{"sql", "x"}, {"max_rows", 1.5}}).find("type"),
            std::string::npos);
  EXPECT_NE(check_arguments(schema, Json{{"sql", "x"}, {"kind", "c"}}).find("one of"),
            std::string::npos);
  EXPECT_NE(check_arguments(schema, Json{{"sql", "x"}, {"list", {1}}}).find("list[0]"),
            std::string::npos);
  EXPECT_NE(
      check_arguments(schema, Json{{"sql", "x"}, {"bogus", 1}}).find("unknown argument bogus"),
      std::string::npos);
  EXPECT_NE(check_arguments(schema, Json::array()).find("type"), std::string::npos);
}

}  // namespace
}  // namespace causeway::mcp
