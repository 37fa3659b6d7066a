#pragma once
// fal's queue for the emulated app: IN_QUEUE (with a position) → IN_PROGRESS (growing logs) →
// COMPLETED, with cancel only while queued and results kept after completion. A few worker
// threads download the inputs from the emulator's own storage and render the output.

#include <boost/json/value.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "file_store.hpp"
#include "input_validation.hpp"

namespace lipsyncd::emulator {

enum class JobStatus { in_queue, in_progress, completed };

struct JobResult {
  int http_status = 200;
  boost::json::value body;
  std::string error;          // empty on success; what status shows as `error`
  std::string error_type;     // what status shows as `error_type`
  bool user_timeout = false;  // 504 because x-fal-request-timeout ran out
};

struct JobRequest {
  std::string app;       // owner/alias, e.g. "fal-ai/sync-lipsync"
  std::string endpoint;  // as submitted, e.g. "fal-ai/sync-lipsync/v2"
  LipsyncInput input;
  std::string webhook_url;                  // empty: none
  std::optional<double> start_timeout_s;    // x-fal-request-timeout / -start-timeout
  std::optional<JobResult> forced_failure;  // the app_failure fault
  bool drop_output = false;                 // the result_file_404 fault
};

struct JobLogLine {
  std::string timestamp;
  std::string message;
};

struct JobSnapshot {
  std::string id;
  std::string app;
  std::string endpoint;  // as submitted, e.g. "fal-ai/sync-lipsync/v2"
  JobStatus status = JobStatus::in_queue;
  int queue_position = 0;
  std::vector<JobLogLine> logs;
  std::optional<JobResult> result;  // once completed
  double inference_time_s = 0;
};

// fal-protocol.md §4.5; both of the first two answer 202 CANCELLATION_REQUESTED.
enum class CancelOutcome {
  cancelled_in_queue,
  requested_while_running,
  already_completed,
  unknown
};

struct JobTiming {
  int queue_delay_ms = 0;  // least time a request stays IN_QUEUE
  int processing_ms = 0;   // least time a request stays IN_PROGRESS
  int workers = 2;
  // Same inputs (by content), model and sync_mode as an earlier request: its output is copied
  // instead of probed and rendered again. The answer is what a fresh render gives; only the
  // CPU time is saved, so load tests measure the client rather than ffmpeg.
  bool reuse_renders = false;
};

class JobQueue {
 public:
  using CompletionHook = std::function<void(const JobSnapshot&, const std::string& webhook_url)>;
  JobQueue(FileStore& store, JobTiming timing, CompletionHook on_complete);
  ~JobQueue();
  JobQueue(const JobQueue&) = delete;
  JobQueue& operator=(const JobQueue&) = delete;

  std::string submit(JobRequest request);
  std::optional<JobSnapshot> find(const std::string& id) const;
  CancelOutcome cancel(const std::string& id);
  // Requests of `app` still IN_QUEUE (for fal_max_queue_length).
  std::size_t queued_count(const std::string& app) const;

 private:
  struct Job {
    JobRequest request;
    JobSnapshot state;
    std::chrono::steady_clock::time_point created;
    std::chrono::steady_clock::time_point started;
    bool claimed = false;
    bool cancel_requested = false;  // cancelled while IN_PROGRESS
  };
  void work();
  void process(const std::string& id);
  JobResult run_app(const std::string& id, const JobRequest& request);
  // Stores the rendered output and answers with its URL (or a dead one: result_file_404).
  JobResult finish_render(const std::string& id, const JobRequest& request,
                          const std::filesystem::path& output, const std::filesystem::path& scratch,
                          std::chrono::steady_clock::time_point begin);
  void add_log(const std::string& id, std::string message);
  void complete(const std::string& id, JobResult result);
  JobSnapshot snapshot_locked(const Job& job) const;

  // The output for these inputs, when reuse_renders is on and it was rendered before.
  std::optional<std::filesystem::path> earlier_render(const std::string& key) const;
  void remember_render(const std::string& key, const std::filesystem::path& output);

  FileStore& store_;
  JobTiming timing_;
  std::map<std::string, std::filesystem::path> renders_;  // by render_key(), under mutex_
  CompletionHook on_complete_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, Job> jobs_;
  std::deque<std::string> queued_;  // IN_QUEUE ids, oldest first
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

std::string iso_timestamp_now();

}  // namespace lipsyncd::emulator
