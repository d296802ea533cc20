// The shared UTF-8 validator (src/common/utf8.cpp): RFC 3629 boundaries, one U+FFFD per
// byte that starts no well-formed sequence.
#include "common/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace causeway {
namespace {

const std::string kR(kUtf8Replacement);

TEST(CommonUtf8Test, SequenceLengthAtTheEdgesOfEachForm) {
  EXPECT_EQ(utf8_sequence_length("a", 0), 1u);
  EXPECT_EQ(utf8_sequence_length(std::string_view("\0", 1), 0), 1u);
  EXPECT_EQ(utf8_sequence_length("\x7F", 0), 1u);
  EXPECT_EQ(utf8_sequence_length("\xC2\x80", 0), 2u);          // U+0080, smallest 2-byte
  EXPECT_EQ(utf8_sequence_length("\xDF\xBF", 0), 2u);          // U+07FF
  EXPECT_EQ(utf8_sequence_length("\xE0\xA0\x80", 0), 3u);      // U+0800, smallest 3-byte
  EXPECT_EQ(utf8_sequence_length("\xED\x9F\xBF", 0), 3u);      // U+D7FF, below surrogates
  EXPECT_EQ(utf8_sequence_length("\xEE\x80\x80", 0), 3u);      // U+E000, above surrogates
  EXPECT_EQ(utf8_sequence_length("\xEF\xBF\xBF", 0), 3u);      // U+FFFF
  EXPECT_EQ(utf8_sequence_length("\xF0\x90\x80\x80", 0), 4u);  // U+10000, smallest 4-byte
  EXPECT_EQ(utf8_sequence_length("\xF4\x8F\xBF\xBF", 0), 4u);  // U+10FFFF, the largest
  EXPECT_EQ(utf8_sequence_length("x\xC3\xA9", 1), 2u);         // found at an offset
}

TEST(CommonUtf8Test, InvalidSequencesHaveLengthZero) {
  EXPECT_EQ(utf8_sequence_length("\x80", 0), 0u);              // stray continuation byte
  EXPECT_EQ(utf8_sequence_length("\xC0\x80", 0), 0u);          // overlong NUL
  EXPECT_EQ(utf8_sequence_length("\xC1\xBF", 0), 0u);          // overlong U+007F
  EXPECT_EQ(utf8_sequence_length("\xE0\x9F\xBF", 0), 0u);      // overlong U+07FF
  EXPECT_EQ(utf8_sequence_length("\xED\xA0\x80", 0), 0u);      // U+D800, a surrogate
  EXPECT_EQ(utf8_sequence_length("\xED\xBF\xBF", 0), 0u);      // U+DFFF, a surrogate
  EXPECT_EQ(utf8_sequence_length("\xF0\x8F\xBF\xBF", 0), 0u);  // overlong U+FFFF
  EXPECT_EQ(utf8_sequence_length("\xF4\x90\x80\x80", 0), 0u);  // U+110000, too large
  EXPECT_EQ(utf8_sequence_length("\xF5\x80\x80\x80", 0), 0u);  // lead byte never valid
  EXPECT_EQ(utf8_sequence_length("\xFF", 0), 0u);
  EXPECT_EQ(utf8_sequence_length("\xE2\x82", 0), 0u);          // cut short by the end
  EXPECT_EQ(utf8_sequence_length("\xE2\x28\xA1", 0), 0u);      // second byte not 10xxxxxx
  EXPECT_EQ(utf8_sequence_length("\xF0\x9F\x9A\x28", 0), 0u);  // last byte not 10xxxxxx
}

TEST(CommonUtf8Test, ValidUtf8ReplacesEachBadByteAndKeepsTheRest) {
  EXPECT_EQ(valid_utf8(""), "");
  EXPECT_EQ(valid_utf8("ok \xC3\xA9 \xF0\x9F\x9A\x80"), "ok \xC3\xA9 \xF0\x9F\x9A\x80");
  EXPECT_EQ(valid_utf8("\xFFx"), kR + "x");
  EXPECT_EQ(valid_utf8("\xC3"), kR);                         // truncated at the end
  EXPECT_EQ(valid_utf8("\xC0\xAF"), kR + kR);                // overlong '/'
  EXPECT_EQ(valid_utf8("\xED\xA0\x80"), kR + kR + kR);       // surrogate
  EXPECT_EQ(valid_utf8("a\xE2\x82z"), "a" + kR + kR + "z");  // cut short mid-string
  // NUL bytes are valid UTF-8 and pass through (comm names are fixed-size byte arrays).
  EXPECT_EQ(valid_utf8(std::string_view("a\0b", 3)), std::string("a\0b", 3));
  // The output is always valid: validating it again changes nothing.
  const std::string once = valid_utf8("\x80\xBF\xC2\xE0\xA0\xF4\x90");
  EXPECT_EQ(valid_utf8(once), once);
}

}  // namespace
}  // namespace causeway
