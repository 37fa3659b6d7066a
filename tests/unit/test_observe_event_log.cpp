// Job events become one line with stable field names, at the severity their meaning calls
// for; heartbeats carry the same numbers as the sd_notify STATUS= line.

#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/base_sink.h>

#include <algorithm>

#include "lipsyncd/observe/event_log.hpp"

namespace lipsyncd::observe {
namespace {

const LogField* find(const LogFields& fields, const std::string& key) {
  const auto it = std::find_if(fields.begin(), fields.end(),
                               [&](const LogField& field) { return field.key == key; });
  return it == fields.end() ? nullptr : &*it;
}

// Captures level, message and the structured fields seen while each message is logged.
class CapturingSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  struct Line {
    spdlog::level::level_enum level;
    std::string message;
    LogFields fields;
  };
  std::vector<Line> lines;

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const auto* fields = current_log_fields();
    lines.push_back({msg.level, std::string(msg.payload.data(), msg.payload.size()),
                     fields != nullptr ? *fields : LogFields{}});
  }
  void flush_() override {}
};

TEST(ObserveEventLog, FieldsCarryEveryValueSetAndNothingElse) {
  JobEvent event;
  event.event = EventName::uploaded;
  event.job_id = "j-17";
  event.stage = "upload";
  event.bytes = 1234567;
  event.seconds = 2.5;
  const auto fields = fields_of(event);
  ASSERT_NE(find(fields, "event"), nullptr);
  EXPECT_EQ(find(fields, "event")->value, "uploaded");
  EXPECT_EQ(find(fields, "job_id")->value, "j-17");
  EXPECT_EQ(find(fields, "stage")->value, "upload");
  EXPECT_EQ(find(fields, "bytes")->value, "1234567");
  EXPECT_TRUE(find(fields, "bytes")->numeric);
  EXPECT_EQ(find(fields, "seconds")->value, "2.5");
  EXPECT_EQ(find(fields, "request_id"), nullptr);
  EXPECT_EQ(find(fields, "cost_usd"), nullptr);
  EXPECT_EQ(find(fields, "reason_code"), nullptr);
}

TEST(ObserveEventLog, NumbersArePlainDecimalsWithAFixedPrecision) {
  JobEvent event;
  event.event = EventName::delivered;
  event.seconds = 1.367233531;
  event.cost_usd = 0.07895999999999999;
  auto fields = fields_of(event);
  EXPECT_EQ(find(fields, "seconds")->value, "1.367");
  EXPECT_EQ(find(fields, "cost_usd")->value, "0.079");
  EXPECT_TRUE(find(fields, "cost_usd")->numeric);
  // What fmt's shortest form writes as 1e-07 and 1.5e+20.
  event.seconds = 1e-7;
  event.cost_usd = 1.5e20;
  fields = fields_of(event);
  EXPECT_EQ(find(fields, "seconds")->value, "0");
  EXPECT_EQ(find(fields, "cost_usd")->value, "150000000000000000000");

  Heartbeat beat;
  beat.spend_today_usd = 0.1 + 0.2;
  beat.oldest_job_age_s = 361.0004999;
  auto sink = std::make_shared<CapturingSink>();
  spdlog::logger logger("test", sink);
  log_heartbeat(logger, beat);
  ASSERT_EQ(sink->lines.size(), 1u);
  EXPECT_EQ(find(sink->lines[0].fields, "spend_today_usd")->value, "0.3");
  EXPECT_EQ(find(sink->lines[0].fields, "oldest_job_age_seconds")->value, "361");
  for (const auto& field : sink->lines[0].fields) {
    if (!field.numeric) continue;
    EXPECT_EQ(field.value.find_first_of("eE"), std::string::npos)
        << field.key << "=" << field.value;
  }
}

TEST(ObserveEventLog, EventNamesAreStable) {
  EXPECT_EQ(to_string(EventName::queue_position), "queue_position");
  EXPECT_EQ(to_string(EventName::deferred), "deferred");
  EXPECT_EQ(to_string(EventName::delivered), "delivered");
  EXPECT_EQ(to_string(EventName::held), "held");
}

TEST(ObserveEventLog, SeverityFollowsTheEventUnlessOverridden) {
  auto sink = std::make_shared<CapturingSink>();
  spdlog::logger logger("test", sink);
  logger.set_level(spdlog::level::trace);

  log_event(logger, {.event = EventName::failed, .job_id = "a", .reason_code = "no_face"});
  log_event(logger,
            {.event = EventName::deferred, .job_id = "b", .retry_at = "2026-11-25T07:00:00Z"});
  log_event(logger, {.event = EventName::delivered, .job_id = "c", .cost_usd = 0.35});
  log_event(logger, {.event = EventName::delivered, .job_id = "d", .severity = Severity::debug});

  ASSERT_EQ(sink->lines.size(), 4u);
  EXPECT_EQ(sink->lines[0].level, spdlog::level::err);
  EXPECT_EQ(sink->lines[1].level, spdlog::level::warn);
  EXPECT_EQ(find(sink->lines[1].fields, "retry_at")->value, "2026-11-25T07:00:00Z");
  EXPECT_EQ(sink->lines[2].level, spdlog::level::info);
  EXPECT_EQ(find(sink->lines[2].fields, "cost_usd")->value, "0.35");
  EXPECT_EQ(sink->lines[3].level, spdlog::level::debug);
  EXPECT_EQ(sink->lines[0].message, "job a failed");  // default text when no message is given
}

TEST(ObserveEventLog, MessageBracesAreNotFormatPlaceholders) {
  auto sink = std::make_shared<CapturingSink>();
  spdlog::logger logger("test", sink);
  log_event(logger, {.event = EventName::rejected, .job_id = "x", .message = "bad name {}{:d}"});
  ASSERT_EQ(sink->lines.size(), 1u);
  EXPECT_EQ(sink->lines[0].message, "bad name {}{:d}");
}

TEST(ObserveEventLog, FieldsAreOnlyPublishedDuringTheCall) {
  auto sink = std::make_shared<CapturingSink>();
  spdlog::logger logger("test", sink);
  log_event(logger, {.event = EventName::accepted, .job_id = "y"});
  EXPECT_EQ(current_log_fields(), nullptr);
  logger.info("plain line");
  ASSERT_EQ(sink->lines.size(), 2u);
  EXPECT_TRUE(sink->lines[1].fields.empty());
}

TEST(ObserveEventLog, HeartbeatLogsTheStatusLineWithItsNumbers) {
  auto sink = std::make_shared<CapturingSink>();
  spdlog::logger logger("test", sink);
  Heartbeat heartbeat;
  heartbeat.queued = 2;
  heartbeat.preparing = 1;
  heartbeat.at_fal = 3;
  heartbeat.delivered_today = 14;
  heartbeat.held = 1;
  heartbeat.held_by_reason["budget"] = 1;
  heartbeat.spend_today_usd = 4.2;
  log_heartbeat(logger, heartbeat);
  ASSERT_EQ(sink->lines.size(), 1u);
  EXPECT_EQ(sink->lines[0].message,
            "2 queued, 1 preparing, 3 at fal, 1 held (budget), 14 delivered today, $4.20 "
            "spent today");
  EXPECT_EQ(sink->lines[0].message, status_line(heartbeat));
  EXPECT_EQ(find(sink->lines[0].fields, "event")->value, "heartbeat");
  EXPECT_EQ(find(sink->lines[0].fields, "at_fal")->value, "3");
  EXPECT_EQ(find(sink->lines[0].fields, "held_budget")->value, "1");
  EXPECT_EQ(find(sink->lines[0].fields, "spend_today_usd")->value, "4.2");
}

// Issue 10, case 9: an ambiguous submit (a person must look at fal's dashboard) was reported
// as "held by budget". Holds are reported by their reason.
TEST(ObserveEventLog, HeldJobsAreReportedByTheirReason) {
  Heartbeat ambiguous;
  ambiguous.held = 1;
  ambiguous.held_by_reason["ambiguous_submit"] = 1;
  EXPECT_NE(status_line(ambiguous).find("1 held (ambiguous_submit)"), std::string::npos)
      << status_line(ambiguous);
  EXPECT_EQ(status_line(ambiguous).find("budget"), std::string::npos) << status_line(ambiguous);

  Heartbeat mixed;
  mixed.held = 4;
  mixed.held_by_reason = {{"ambiguous_submit", 1}, {"budget", 2}};
  EXPECT_NE(status_line(mixed).find("4 held (1 ambiguous_submit, 2 budget, 1 other)"),
            std::string::npos)
      << status_line(mixed);

  auto sink = std::make_shared<CapturingSink>();
  spdlog::logger logger("test", sink);
  log_heartbeat(logger, mixed);
  ASSERT_EQ(sink->lines.size(), 1u);
  EXPECT_EQ(find(sink->lines[0].fields, "held")->value, "4");
  EXPECT_EQ(find(sink->lines[0].fields, "held_ambiguous_submit")->value, "1");
  EXPECT_EQ(find(sink->lines[0].fields, "held_budget")->value, "2");
}

TEST(ObserveEventLog, JournalFieldNamesAreUpperCaseAndValid) {
  EXPECT_EQ(journal_field_name("job_id"), "JOB_ID");
  EXPECT_EQ(journal_field_name("cost_usd"), "COST_USD");
  EXPECT_EQ(journal_field_name("_trusted"), "F__TRUSTED");
  EXPECT_EQ(journal_field_name("9lives"), "F_9LIVES");
  EXPECT_EQ(journal_field_name("a-b.c"), "A_B_C");
}

}  // namespace
}  // namespace lipsyncd::observe
