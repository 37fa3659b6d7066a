// Numbers people read (dollars and cents, milliseconds) and numbers scripts read (plain
// decimals with a fixed precision, never Boost.JSON's 4.53E0 or fmt's 1e-07).

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>
#include <limits>

#include "lipsyncd/core/json_text.hpp"
#include "lipsyncd/core/number_format.hpp"

namespace lipsyncd {
namespace {

TEST(CoreNumberFormat, PlainDecimalRoundsAndDropsTrailingZerosWithoutExponents) {
  EXPECT_EQ(plain_decimal(0.07895999999999999, kUsdDecimals), "0.079");
  EXPECT_EQ(plain_decimal(1.367233531, kSecondsDecimals), "1.367");
  EXPECT_EQ(plain_decimal(4.53, kSecondsDecimals), "4.53");
  EXPECT_EQ(plain_decimal(600.0, kSecondsDecimals), "600");
  EXPECT_EQ(plain_decimal(1e-7, kSecondsDecimals), "0");
  EXPECT_EQ(plain_decimal(-0.0001, kSecondsDecimals), "0");
  EXPECT_EQ(plain_decimal(-2.5, 1), "-2.5");
  EXPECT_EQ(plain_decimal(1.5e20, 2), "150000000000000000000");
  EXPECT_EQ(plain_decimal(std::numeric_limits<double>::infinity(), 2), "null");
}

TEST(CoreNumberFormat, MoneyForPeopleIsDollarsAndCentsAndDurationsAreMilliseconds) {
  EXPECT_EQ(usd_text(0.07895999999999999), "$0.08");
  EXPECT_EQ(usd_text(12.5), "$12.50");
  EXPECT_EQ(usd_text(0), "$0.00");
  EXPECT_EQ(usd_text(-0.3), "-$0.30");
  EXPECT_EQ(usd_text(-0.001), "$0.00");
  EXPECT_EQ(seconds_text(6.768), "6.768 s");
  EXPECT_EQ(seconds_text(1.367233531), "1.367 s");
  EXPECT_EQ(seconds_text(0.0004), "0.000 s");
}

TEST(CoreNumberFormat, RoundToKeepsTheDecimalsAsked) {
  EXPECT_DOUBLE_EQ(round_to(0.07896, 4), 0.079);
  EXPECT_DOUBLE_EQ(round_to(2.0005, 3), 2.001);
  EXPECT_FALSE(std::signbit(round_to(-0.00001, 2)));
}

TEST(CoreJsonText, DoublesArePlainDecimalsEverywhereInTheDocument) {
  const boost::json::value document = {
      {"output_duration_s", 4.53},
      {"estimated_cost_usd", 0.053},
      {"tiny", 1e-7},
      {"whole", 600.0},
      {"negative", -0.25},
      {"list", boost::json::array{1.5e-3, 2, "x"}},
      {"nested", {{"big", 1.5e20}, {"nan", std::nan("")}}},
      {"text", "quote \" and 1E5 stay text"},
      {"flag", true},
      {"nothing", nullptr},
  };
  // Boost.JSON's own form, which this replaces.
  EXPECT_NE(boost::json::serialize(document).find("4.53E0"), std::string::npos);
  const auto text = json_text(document);
  EXPECT_EQ(text, R"({"output_duration_s":4.53,"estimated_cost_usd":0.053,"tiny":0.0000001,)"
                  R"("whole":600.0,"negative":-0.25,"list":[0.0015,2,"x"],)"
                  R"("nested":{"big":150000000000000000000.0,"nan":null},)"
                  R"("text":"quote \" and 1E5 stay text","flag":true,"nothing":null})");
  // The text is still JSON, with the same values and types: a double reads back as a double.
  const auto back = boost::json::parse(text);
  EXPECT_DOUBLE_EQ(back.at("output_duration_s").as_double(), 4.53);
  EXPECT_DOUBLE_EQ(back.at("tiny").as_double(), 1e-7);
  EXPECT_DOUBLE_EQ(back.at("whole").as_double(), 600);
  EXPECT_EQ(back.at("list").at(1).as_int64(), 2);
}

TEST(CoreJsonText, JsonDecimalRoundsToTheDecimalsAsked) {
  EXPECT_EQ(json_text(json_decimal(0.07895999999999999, kUsdDecimals)), "0.079");
  EXPECT_EQ(json_text(json_decimal(4.0, kSecondsDecimals)), "4.0");
  EXPECT_EQ(json_text(json_decimal(-0.00001, kSecondsDecimals)), "0.0");
  EXPECT_TRUE(json_decimal(4.0, kSecondsDecimals).is_double());
  EXPECT_TRUE(json_decimal(std::numeric_limits<double>::infinity(), 3).is_null());
}

}  // namespace
}  // namespace lipsyncd
