#include "job_rows.hpp"

#include "job_columns.hpp"
#include "job_record_codec.hpp"
#include "time_codec.hpp"

namespace lipsyncd::spool::sqlite {
namespace {

const std::string kSelectJob = std::string("SELECT ") + kJobColumns + " FROM jobs ";

JobRecord read_job(const Statement& row) {
  JobRecord job;
  job.id = row.text(0);
  job.name = row.text(1);
  job.source = parse_job_source(row.text(2)).value_or(JobSource::same_stem);
  job.state = parse_job_state(row.text(3)).value_or(JobState::accepted);
  if (const auto resume = row.optional_text(4)) job.resume_state = parse_job_state(*resume);
  if (const auto reason = row.optional_text(5)) job.hold_reason = parse_hold_reason(*reason);
  job.attempts = static_cast<int>(row.integer(6));
  if (const auto next = row.optional_integer(7)) job.next_attempt_at = from_millis(*next);
  job.spool_dir = row.text(8);
  auto inputs = codec::decode_inputs(row.text(9));
  job.video = std::move(inputs.video);
  job.audio = std::move(inputs.audio);
  job.extras = std::move(inputs.extras);
  job.options = codec::decode_options(row.text(10));
  job.content_hash = row.text(11);
  if (const auto plan = row.optional_text(12)) job.plan = codec::decode_plan(*plan);
  if (const auto uploads = row.optional_text(13)) job.uploads = codec::decode_uploads(*uploads);
  job.endpoint = row.text(14);
  job.request_id = row.text(15);
  job.submit_intent = row.integer(16) != 0;
  if (const auto result = row.optional_text(17)) job.result = codec::decode_result(*result);
  job.delivered_paths = codec::decode_paths(row.text(18));
  if (const auto error = row.optional_text(19)) job.error = codec::decode_error(*error);
  job.created_at = from_millis(row.integer(20));
  job.updated_at = from_millis(row.integer(21));
  job.entered_at = codec::decode_entered_at(row.text(22));
  job.request_urls = codec::decode_request_urls(row.text(23));
  job.lease.node = row.text(24);
  job.lease.token = row.integer(25);
  if (const auto expires = row.optional_integer(26)) job.lease.expires_at = from_millis(*expires);
  // 27, parent_id: the segment's parent, for queries; the record has it in the segment.
  if (const auto segment = row.optional_text(28)) job.segment = codec::decode_segment(*segment);
  return job;
}

template <typename T>
std::optional<std::string> encoded(const std::optional<T>& value) {
  if (!value) return std::nullopt;
  return codec::encode(*value);
}

std::optional<std::string> state_name(const std::optional<JobState>& state) {
  if (!state) return std::nullopt;
  return std::string(to_string(*state));
}

}  // namespace

void write_job(Database& database, const JobRecord& job) {
  auto statement = database.prepare(
      std::string("INSERT OR REPLACE INTO jobs (") + kJobColumns +
      ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
      "?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29)");
  statement.bind(1, job.id)
      .bind(2, job.name)
      .bind(3, to_string(job.source))
      .bind(4, to_string(job.state))
      .bind(5, state_name(job.resume_state))
      .bind(6, job.hold_reason
                   ? std::optional<std::string>(std::string(to_string(*job.hold_reason)))
                   : std::nullopt)
      .bind(7, std::int64_t{job.attempts})
      .bind(8, job.next_attempt_at ? std::optional<std::int64_t>(to_millis(*job.next_attempt_at))
                                   : std::nullopt)
      .bind(9, job.spool_dir.string())
      .bind(10, codec::encode(codec::Inputs{job.video, job.audio, job.extras}))
      .bind(11, codec::encode(job.options))
      .bind(12, job.content_hash)
      .bind(13, encoded(job.plan))
      .bind(14, encoded(job.uploads))
      .bind(15, job.endpoint)
      .bind(16, job.request_id)
      .bind(17, std::int64_t{job.submit_intent ? 1 : 0})
      .bind(18, encoded(job.result))
      .bind(19, codec::encode(job.delivered_paths))
      .bind(20, encoded(job.error))
      .bind(21, to_millis(job.created_at))
      .bind(22, to_millis(job.updated_at))
      .bind(23, codec::encode(job.entered_at))
      .bind(24, codec::encode(job.request_urls))
      .bind(25, job.lease.node)
      .bind(26, job.lease.token)
      .bind(27, job.lease.expires_at ? std::optional<std::int64_t>(to_millis(*job.lease.expires_at))
                                     : std::nullopt)
      .bind(28, job.segment ? job.segment->parent_id : std::string())
      .bind(29, encoded(job.segment));
  statement.run();
}

void append_event(Database& database, const JobId& id, TimePoint at, std::optional<JobState> from,
                  JobState to, const std::string& detail) {
  auto statement = database.prepare(
      "INSERT INTO job_events (job_id, at, from_state, to_state, detail) "
      "VALUES (?1, ?2, ?3, ?4, ?5)");
  statement.bind(1, id)
      .bind(2, to_millis(at))
      .bind(3, state_name(from))
      .bind(4, to_string(to))
      .bind(5, detail);
  statement.run();
}

std::optional<JobRecord> load_job(Database& database, const JobId& id) {
  auto query = database.prepare(kSelectJob + "WHERE id = ?1");
  query.bind(1, id);
  if (!query.step()) return std::nullopt;
  return read_job(query);
}

std::vector<JobRecord> load_jobs(Database& database, const std::string& where,
                                 const std::function<void(Statement&)>& bind) {
  auto query = database.prepare(kSelectJob + where);
  if (bind) bind(query);
  std::vector<JobRecord> jobs;
  while (query.step()) jobs.push_back(read_job(query));
  return jobs;
}

std::vector<JobRecord> load_segments(Database& database, const JobId& parent) {
  // Segment ids are the parent's id and a number: by length, then by text, is by index.
  return load_jobs(database, "WHERE parent_id = ?1 ORDER BY length(id), id",
                   [&](Statement& query) { query.bind(1, parent); });
}

}  // namespace lipsyncd::spool::sqlite
