#include "mcp/arg_check.h"

namespace causeway::mcp {
namespace {

bool has_type(const Json& v, const std::string& type) {
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "string") return v.is_string();
  if (type == "integer") {
    return v.is_number_integer() ||
           (v.is_number_float() &&
            v.get<double>() == static_cast<double>(static_cast<int64_t>(v.get<double>())));
  }
  if (type == "number") return v.is_number();
  if (type == "boolean") return v.is_boolean();
  if (type == "null") return v.is_null();
  return true;
}

std::string check(const Json& schema, const Json& v, const std::string& where) {
  if (!schema.is_object()) return "";
  if (auto t = schema.find("type"); t != schema.end()) {
    bool ok = false;
    if (t->is_string()) {
      ok = has_type(v, t->get<std::string>());
    } else if (t->is_array()) {
      for (const auto& one : *t)
        ok = ok || (one.is_string() && has_type(v, one.get<std::string>()));
    }
    if (!ok) return where + " must be of type " + t->dump();
  }
  if (auto e = schema.find("enum"); e != schema.end() && e->is_array()) {
    bool found = false;
    for (const auto& option : *e) found = found || option == v;
    if (!found) return where + " must be one of " + e->dump();
  }
  if (v.is_number()) {
    double x = v.get<double>();
    if (auto m = schema.find("minimum"); m != schema.end() && x < m->get<double>()) {
      return where + " must be at least " + m->dump();
    }
    if (auto m = schema.find("maximum"); m != schema.end() && x > m->get<double>()) {
      return where + " must be at most " + m->dump();
    }
  }
  if (v.is_string()) {
    size_t n = v.get_ref<const std::string&>().size();
    if (auto m = schema.find("minLength"); m != schema.end() && n < m->get<size_t>()) {
      return where + " must be at least " + m->dump() + " characters long";
    }
    if (auto m = schema.find("maxLength"); m != schema.end() && n > m->get<size_t>()) {
      return where + " must be at most " + m->dump() + " characters long";
    }
  }
  if (v.is_array()) {
    if (auto m = schema.find("maxItems"); m != schema.end() && v.size() > m->get<size_t>()) {
      return where + " must have at most " + m->dump() + " items";
    }
    if (auto items = schema.find("items"); items != schema.end()) {
      for (size_t i = 0; i < v.size(); ++i) {
        std::string err = check(*items, v[i], where + "[" + std::to_string(i) + "]");
        if (!err.empty()) return err;
      }
    }
  }
  if (v.is_object()) {
    const Json* props = nullptr;
    if (auto p = schema.find("properties"); p != schema.end() && p->is_object()) props = &*p;
    if (auto r = schema.find("required"); r != schema.end() && r->is_array()) {
      for (const auto& name : *r) {
        if (name.is_string() && !v.contains(name.get<std::string>())) {
          return "missing required argument " + name.get<std::string>();
        }
      }
    }
    bool closed = false;
    if (auto a = schema.find("additionalProperties"); a != schema.end() && a->is_boolean()) {
      closed = !a->get<bool>();
    }
    for (const auto& [key, value] : v.items()) {
      std::string sub = where == "arguments" ? "argument " + key : where + "." + key;
      if (props && props->contains(key)) {
        std::string err = check((*props)[key], value, sub);
        if (!err.empty()) return err;
      } else if (closed) {
        std::string known;
        if (props) {
          for (const auto& [k, _] : props->items()) known += (known.empty() ? "" : ", ") + k;
        }
        return "unknown " + sub + " (known: " + known + ")";
      }
    }
  }
  return "";
}

}  // namespace

std::string check_arguments(const Json& schema, const Json& value) {
  return check(schema, value, "arguments");
}

}  // namespace causeway::mcp
