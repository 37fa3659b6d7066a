// The settle rule as a pure state machine: events and versions in, "may it be taken?" out, on
// a clock the test moves by hand. No inotify, no sleeping.

#include <gtest/gtest.h>

#include "lipsyncd/intake/settle_rule.hpp"

namespace lipsyncd::intake {
namespace {

using namespace std::chrono_literals;

const SettleTimes kTimes{2s, 25ms};

class SettleRuleTest : public testing::Test {
 protected:
  // The next version of the file, `bytes` longer.
  FileVersion grown(std::uintmax_t bytes) {
    version_.size += bytes;
    version_.mtime_ns += 1'000'000;
    return version_;
  }
  bool settled(SettleRule& rule, bool declares_end = true) {
    return rule.settled(version_, now_, kTimes, [&] {
      ++end_checks_;
      return declares_end;
    });
  }

  SteadyTime now_ = SteadyTime{} + 1h;
  FileVersion version_{0, 1, 42};
  int end_checks_ = 0;
};

TEST_F(SettleRuleTest, OneRoundOfAFileThatDeclaresItsEndIsTakenRightAfterTheClose) {
  SettleRule rule(version_, now_, Arrival::written_here);
  rule.written(now_);
  rule.closed(grown(1000), now_);
  EXPECT_FALSE(settled(rule));
  now_ += 25ms;
  EXPECT_TRUE(settled(rule));
  EXPECT_EQ(end_checks_, 1);  // asked once for this version
}

TEST_F(SettleRuleTest, OneRoundOfAFileThatDoesNotDeclareItsEndWaitsSettleTime) {
  SettleRule rule(version_, now_, Arrival::written_here);
  rule.written(now_);
  rule.closed(grown(1000), now_);
  now_ += 1900ms;
  EXPECT_FALSE(settled(rule, false));
  now_ += 100ms;
  EXPECT_TRUE(settled(rule, false));
}

TEST_F(SettleRuleTest, AWriterAppendingInRoundsIsNotTakenUntilQuietForSettleTime) {
  // `cat part >> file` in a loop: every round opens, writes, closes; the head of a media file
  // may even look complete. Pauses of 300 ms, far longer than the close quiet window.
  SettleRule rule(version_, now_, Arrival::written_here);
  rule.written(now_);
  rule.closed(grown(1 << 20), now_);
  now_ += 300ms;
  // The first round alone cannot be told from a complete file when the head declares a
  // length that is all there; a truncated head does not (see declared_end), and waits.
  EXPECT_FALSE(settled(rule, false));
  for (int round = 2; round <= 10; ++round) {
    rule.written(now_);
    EXPECT_FALSE(settled(rule)) << "round " << round;
    rule.closed(grown(1 << 20), now_);
    now_ += 300ms;
    EXPECT_FALSE(settled(rule)) << "taken between rounds " << round << " and " << round + 1;
    EXPECT_TRUE(rule.written_in_rounds());
  }
  now_ += 1700ms;  // 2 s since the last close
  EXPECT_TRUE(settled(rule));
}

TEST_F(SettleRuleTest, AFileOpenForWritingIsNeverTakenHoweverLongTheWriterPauses) {
  SettleRule rule(version_, now_, Arrival::written_here);
  rule.written(now_);
  grown(10);
  rule.written(now_);
  now_ += 1h;
  EXPECT_FALSE(settled(rule));
  rule.closed(version_, now_);
  now_ += 25ms;
  EXPECT_TRUE(settled(rule));
}

TEST_F(SettleRuleTest, AFileRenamedInIsCompleteWithoutLookingAtItsContent) {
  SettleRule rule(grown(500), now_, Arrival::renamed_in);
  now_ += 25ms;
  EXPECT_TRUE(settled(rule, false));
  EXPECT_EQ(end_checks_, 0);
}

TEST_F(SettleRuleTest, AFileWrittenAgainAfterItWasRenamedInWaitsSettleTime) {
  SettleRule rule(grown(500), now_, Arrival::renamed_in);
  rule.written(now_);
  rule.closed(grown(500), now_);
  now_ += 1s;
  EXPECT_FALSE(settled(rule));
  now_ += 1s;
  EXPECT_TRUE(settled(rule));
}

TEST_F(SettleRuleTest, AnEmptyPlaceholderFilledInOneRoundStillTakesTheFastPath) {
  SettleRule rule(version_, now_, Arrival::written_here);
  rule.closed(version_, now_);  // created empty and closed
  now_ += 1s;
  EXPECT_FALSE(settled(rule));  // an empty file is never complete by a close
  rule.written(now_);
  rule.closed(grown(800), now_);
  now_ += 25ms;
  EXPECT_TRUE(settled(rule));
}

TEST_F(SettleRuleTest, AnEmptyFileNobodyFillsIsTakenAfterSettleTime) {
  SettleRule rule(version_, now_, Arrival::written_here);
  rule.closed(version_, now_);
  now_ += 2s;
  EXPECT_TRUE(settled(rule));
}

TEST_F(SettleRuleTest, AFileFoundByAScanNeverTakesTheFastPath) {
  // Its earlier rounds happened before anyone looked, so a close says nothing.
  SettleRule rule(grown(100), now_, Arrival::found);
  rule.written(now_);
  rule.closed(grown(100), now_);
  now_ += 25ms;
  EXPECT_FALSE(settled(rule));
  now_ += 2s;
  EXPECT_TRUE(settled(rule));
}

TEST_F(SettleRuleTest, AChangeNoEventReportedRestartsTheWaitAndEndsTheFastPath) {
  SettleRule rule(version_, now_, Arrival::written_here);
  rule.written(now_);
  rule.closed(grown(100), now_);
  grown(100);  // appended through a path inotify does not see (a network share)
  now_ += 25ms;
  EXPECT_FALSE(settled(rule));
  EXPECT_TRUE(rule.written_in_rounds());
  now_ += 1999ms;
  EXPECT_FALSE(settled(rule));
  now_ += 1ms;
  EXPECT_TRUE(settled(rule));
}

TEST_F(SettleRuleTest, LostEventsForgetOpenWritersSoSettleTimeDecides) {
  SettleRule rule(version_, now_, Arrival::written_here);
  rule.written(now_);
  rule.writers_unknown();
  now_ += 2s;
  EXPECT_TRUE(settled(rule));
}

TEST_F(SettleRuleTest, RecheckIsSoonOnTheFastPathAndAQuarterOfSettleTimeOtherwise) {
  SettleRule fast(version_, now_, Arrival::written_here);
  fast.written(now_);
  fast.closed(grown(10), now_);
  settled(fast);
  EXPECT_EQ(fast.recheck_after(kTimes), 10ms);
  SettleRule slow(version_, now_, Arrival::found);
  settled(slow);
  EXPECT_EQ(slow.recheck_after(kTimes), 500ms);
}

}  // namespace
}  // namespace lipsyncd::intake
