#include <gtest/gtest.h>

#include <string>

#include "lipsyncd/core/file_name.hpp"

namespace lipsyncd {
namespace {

TEST(FileName, ShortNamesAreKept) {
  EXPECT_EQ(fit_file_name("clip.lipsync.mp4", 12), "clip.lipsync.mp4");
  EXPECT_EQ(utf8_prefix("abc", 10), "abc");
}

TEST(FileName, LongNamesKeepTheirExtensionsAndFit) {
  const std::string stem(300, 'x');
  const auto fitted = fit_file_name(stem + ".lipsync.mp4", 12);
  EXPECT_EQ(fitted.size(), kMaxFileNameBytes);
  EXPECT_TRUE(fitted.ends_with("x.lipsync.mp4"));
  EXPECT_EQ(fit_file_name(stem + ".error.json", 11, 100).size(), 100u);
}

TEST(FileName, NeverCutsACharacterInHalf) {
  // "é" is two bytes: a 5-byte limit must stop before the third one, not inside it.
  EXPECT_EQ(utf8_prefix("ééé", 5), "éé");
  std::string stem;
  for (int i = 0; i < 200; ++i) stem += "é";
  const auto fitted = fit_file_name(stem + ".mp4", 4);
  EXPECT_LE(fitted.size(), kMaxFileNameBytes);
  EXPECT_TRUE(fitted.ends_with("é.mp4"));
  EXPECT_EQ(fitted.size() % 2, 0u);  // 2-byte characters plus ".mp4"
}

TEST(FileName, HiddenTemporariesOfTheLongestNamesStillFit) {
  const std::string longest(kMaxFileNameBytes, 'y');
  const auto temporary = hidden_temporary_name(longest, ".1234567890.tmp");
  EXPECT_EQ(temporary.size(), kMaxFileNameBytes);
  EXPECT_TRUE(temporary.starts_with(".yyy"));
  EXPECT_TRUE(temporary.ends_with(".1234567890.tmp"));
  EXPECT_EQ(hidden_temporary_name("a.mp4", ".partial"), ".a.mp4.partial");
}

}  // namespace
}  // namespace lipsyncd
