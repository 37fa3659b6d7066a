#include "job_rows.hpp"

#include "job_columns.hpp"
#include "job_record_codec.hpp"
#include "time_codec.hpp"

namespace lipsyncd::spool::pg {
namespace {

const std::string kSelectJob = std::string("SELECT ") + kJobColumns + " FROM jobs ";

constexpr const char* kRecordValues =
    "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, "
    "$21, $22, $23, $24, $25, $26, $27, $28, $29";
constexpr const char* kRecordAssignments =
    "name = $2, source = $3, state = $4, resume_state = $5, hold_reason = $6, attempts = $7, "
    "next_attempt_at = $8, spool_dir = $9, inputs = $10, options = $11, content_hash = $12, "
    "plan = $13, uploads = $14, endpoint = $15, request_id = $16, submit_intent = $17, "
    "result = $18, delivered_paths = $19, error = $20, created_at = $21, updated_at = $22, "
    "entered_at = $23, request_urls = $24, lease_node = $25, lease_token = $26, "
    "lease_expires_at = $27, parent_id = $28, segment = $29";

JobRecord read_job(const Result& rows, int row) {
  JobRecord job;
  job.id = rows.text(row, 0);
  job.name = rows.text(row, 1);
  job.source = parse_job_source(rows.text(row, 2)).value_or(JobSource::same_stem);
  job.state = parse_job_state(rows.text(row, 3)).value_or(JobState::accepted);
  if (const auto resume = rows.optional_text(row, 4)) job.resume_state = parse_job_state(*resume);
  if (const auto reason = rows.optional_text(row, 5)) job.hold_reason = parse_hold_reason(*reason);
  job.attempts = static_cast<int>(rows.integer(row, 6));
  if (const auto next = rows.optional_integer(row, 7)) job.next_attempt_at = from_millis(*next);
  job.spool_dir = rows.text(row, 8);
  auto inputs = codec::decode_inputs(rows.text(row, 9));
  job.video = std::move(inputs.video);
  job.audio = std::move(inputs.audio);
  job.extras = std::move(inputs.extras);
  job.options = codec::decode_options(rows.text(row, 10));
  job.content_hash = rows.text(row, 11);
  if (const auto plan = rows.optional_text(row, 12)) job.plan = codec::decode_plan(*plan);
  if (const auto uploads = rows.optional_text(row, 13)) {
    job.uploads = codec::decode_uploads(*uploads);
  }
  job.endpoint = rows.text(row, 14);
  job.request_id = rows.text(row, 15);
  job.submit_intent = rows.boolean(row, 16);
  if (const auto result = rows.optional_text(row, 17)) job.result = codec::decode_result(*result);
  job.delivered_paths = codec::decode_paths(rows.text(row, 18));
  if (const auto error = rows.optional_text(row, 19)) job.error = codec::decode_error(*error);
  job.created_at = from_millis(rows.integer(row, 20));
  job.updated_at = from_millis(rows.integer(row, 21));
  job.entered_at = codec::decode_entered_at(rows.text(row, 22));
  job.request_urls = codec::decode_request_urls(rows.text(row, 23));
  job.lease.node = rows.text(row, 24);
  job.lease.token = rows.integer(row, 25);
  if (const auto expires = rows.optional_integer(row, 26)) {
    job.lease.expires_at = from_millis(*expires);
  }
  // 27, parent_id: the segment's parent, for queries; the record has it in the segment.
  if (const auto segment = rows.optional_text(row, 28)) {
    job.segment = codec::decode_segment(*segment);
  }
  return job;
}

template <typename T>
Param encoded(const std::optional<T>& value) {
  if (!value) return std::nullopt;
  return codec::encode(*value);
}

template <typename Enum>
Param name_of(const std::optional<Enum>& value) {
  if (!value) return std::nullopt;
  return std::string(to_string(*value));
}

Params row_params(const JobRecord& job) {
  return {
      param(job.id),
      param(job.name),
      param(to_string(job.source)),
      param(to_string(job.state)),
      name_of(job.resume_state),
      name_of(job.hold_reason),
      param(std::int64_t{job.attempts}),
      job.next_attempt_at ? param(to_millis(*job.next_attempt_at)) : std::nullopt,
      param(job.spool_dir.string()),
      param(codec::encode(codec::Inputs{job.video, job.audio, job.extras})),
      param(codec::encode(job.options)),
      param(job.content_hash),
      encoded(job.plan),
      encoded(job.uploads),
      param(job.endpoint),
      param(job.request_id),
      param(job.submit_intent),
      encoded(job.result),
      param(codec::encode(job.delivered_paths)),
      encoded(job.error),
      param(to_millis(job.created_at)),
      param(to_millis(job.updated_at)),
      param(codec::encode(job.entered_at)),
      param(codec::encode(job.request_urls)),
      param(job.lease.node),
      param(job.lease.token),
      job.lease.expires_at ? param(to_millis(*job.lease.expires_at)) : std::nullopt,
      param(job.segment ? job.segment->parent_id : std::string()),
      encoded(job.segment),
  };
}

}  // namespace

void insert_job(Connection& connection, const JobRecord& job) {
  connection.exec(std::string("INSERT INTO jobs (") + kJobColumns + ") VALUES (" + kRecordValues +
                      ") ON CONFLICT (id) DO UPDATE SET " + kRecordAssignments,
                  row_params(job));
}

void update_job(Connection& connection, const JobRecord& job) {
  connection.exec(std::string("UPDATE jobs SET ") + kRecordAssignments + " WHERE id = $1",
                  row_params(job));
}

void append_event(Connection& connection, const JobId& id, TimePoint at,
                  std::optional<JobState> from, JobState to, const std::string& detail) {
  connection.exec(
      "INSERT INTO job_events (job_id, at, from_state, to_state, detail) "
      "VALUES ($1, $2, $3, $4, $5)",
      {param(id), param(to_millis(at)), name_of(from), param(to_string(to)), param(detail)});
}

std::optional<JobRecord> load_job(Connection& connection, const JobId& id, RowLock lock) {
  const auto rows = connection.exec(
      kSelectJob + "WHERE id = $1" + (lock == RowLock::for_update ? " FOR UPDATE" : ""),
      {param(id)});
  if (rows.rows() == 0) return std::nullopt;
  return read_job(rows, 0);
}

std::vector<JobRecord> load_jobs(Connection& connection, const std::string& where,
                                 const Params& params) {
  const auto rows = connection.exec(kSelectJob + where, params);
  std::vector<JobRecord> jobs;
  jobs.reserve(static_cast<std::size_t>(rows.rows()));
  for (int row = 0; row < rows.rows(); ++row) jobs.push_back(read_job(rows, row));
  return jobs;
}

std::vector<JobRecord> load_segments(Connection& connection, const JobId& parent, RowLock lock) {
  // Segment ids are the parent's id and a number: by length, then by text, is by index.
  return load_jobs(connection,
                   std::string("WHERE parent_id = $1 ORDER BY length(id), id") +
                       (lock == RowLock::for_update ? " FOR UPDATE" : ""),
                   {param(parent)});
}

}  // namespace lipsyncd::spool::pg
