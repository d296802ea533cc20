#include "common/terminal_text.h"

#include <cstdint>
#include <cstdio>

#include "common/utf8.h"

namespace causeway {
namespace {

void append_hex_byte(std::string& out, unsigned char c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\x%02x", c);
  out += buf;
}

void append_u(std::string& out, uint32_t cp) {
  char buf[12];
  std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
  out += buf;
}

// The code point of the well-formed sequence of `len` bytes at s[i].
uint32_t decode(std::string_view s, size_t i, size_t len) {
  auto b = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(s[i + k])); };
  switch (len) {
    case 1:
      return b(0);
    case 2:
      return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
    case 3:
      return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
    default:
      return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
  }
}

bool is_bidi_control(uint32_t cp) {
  return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

// Walks `s`: each ASCII byte goes to `ascii`, each byte that starts no valid UTF-8 sequence to
// `invalid`; valid multi-byte characters are copied, except C1 and bidi controls, which are
// written as \u escapes (the same for every caller).
template <typename Ascii, typename Invalid>
void escape_each(std::string& out, std::string_view s, Ascii ascii, Invalid invalid) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ascii(c);
      ++i;
      continue;
    }
    const size_t len = utf8_sequence_length(s, i);
    if (len == 0) {
      invalid(c);
      ++i;
      continue;
    }
    const uint32_t cp = decode(s, i, len);
    if ((cp >= 0x80 && cp <= 0x9F) || is_bidi_control(cp)) {
      append_u(out, cp);
    } else {
      out.append(s.substr(i, len));
    }
    i += len;
  }
}

}  // namespace

std::string terminal_safe(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  escape_each(
      out, s,
      [&](unsigned char c) {
        switch (c) {
          case '\n':
            out += "\\n";
            break;
          case '\r':
            out += "\\r";
            break;
          case '\t':
            out += "\\t";
            break;
          case 0x1B:
            out += "\\e";
            break;
          case 0x07:
            out += "\\a";
            break;
          case 0x08:
            out += "\\b";
            break;
          case 0x0C:
            out += "\\f";
            break;
          case 0x0B:
            out += "\\v";
            break;
          case '\\':
            out += "\\\\";
            break;
          default:
            if (c < 0x20 || c == 0x7F) {
              append_hex_byte(out, c);
            } else {
              out.push_back(static_cast<char>(c));
            }
        }
      },
      [&](unsigned char c) { append_hex_byte(out, c); });
  return out;
}

std::string terminal_safe_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  escape_each(
      out, s,
      [&](unsigned char c) {
        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7F) {
          append_u(out, c);
        } else {
          out.push_back(static_cast<char>(c));
        }
      },
      [&](unsigned char) { append_u(out, 0xFFFD); });
  return out;
}

std::string quoted_name(std::string_view s) {
  std::string out = "\"";
  escape_each(
      out, s,
      [&](unsigned char c) {
        switch (c) {
          case '"':
            out += "\\\"";
            break;
          case '\\':
            out += "\\\\";
            break;
          case '\n':
            out += "\\n";
            break;
          case '\r':
            out += "\\r";
            break;
          case '\t':
            out += "\\t";
            break;
          default:
            if (c < 0x20 || c == 0x7F) {
              append_u(out, c);
            } else {
              out.push_back(static_cast<char>(c));
            }
        }
      },
      [&](unsigned char) { append_u(out, 0xFFFD); });
  out += '"';
  return out;
}

}  // namespace causeway
