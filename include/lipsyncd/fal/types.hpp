#pragma once
// Plain values exchanged with fal's queue API for the sync-lipsync model; no JSON types leak
// out of the fal module.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lipsyncd::fal {

// The model's input. model and sync_mode are left out of the request when empty.
struct LipsyncInput {
  std::string video_url;
  std::string audio_url;
  std::string model;
  std::string sync_mode;
};

// What fal returns when it accepted a request. From here on the request costs money: persist
// request_id before anything else.
struct Submission {
  std::string request_id;
  std::string status_url;
  std::string response_url;
  std::string cancel_url;
  std::optional<int> queue_position;
};

enum class QueueState { in_queue, in_progress, completed };

struct LogLine {
  std::string timestamp;
  std::string level;
  std::string message;
};

struct QueueStatus {
  QueueState state = QueueState::in_queue;
  std::optional<int> queue_position;  // only while IN_QUEUE
  std::vector<LogLine> logs;          // all logs so far (when asked for)
  std::string error;                  // some COMPLETED statuses carry the app's error
  std::string error_type;             // its machine name, e.g. "client_cancelled"
  std::optional<double> inference_time_s;
};

struct LipsyncOutput {
  std::string video_url;
  std::string content_type;
  std::string file_name;
  std::optional<std::uint64_t> file_size;
};

// What a cancel achieved (fal-protocol.md §4.5). fal answers 202 CANCELLATION_REQUESTED both
// while the request is queued and while it runs; the status right after tells them apart.
enum class CancelOutcome {
  cancelled_before_run,     // removed from the queue: it never runs, nothing is billed
  requested_while_running,  // the runner was signalled: it may still complete and be billed
  already_completed,        // 400 ALREADY_COMPLETED: it ran and is billed
  not_found,                // 404: fal does not know the request (expired or wrong id)
};
std::string_view to_string(CancelOutcome outcome) noexcept;
// One sentence for people: "cancelled before it ran (nothing billed)", ...
std::string_view describe(CancelOutcome outcome) noexcept;

// What wait_for_completion reports each time something changes.
struct Progress {
  QueueState state = QueueState::in_queue;
  std::optional<int> queue_position;
  std::vector<LogLine> new_logs;  // only the lines not reported before
};

}  // namespace lipsyncd::fal
