#pragma once
// The columns of a job's row, in the order both backends read and write them (sqlite/ and
// postgres/ job_rows.cpp): one list, so a field added to JobRecord gets its column in both.

namespace lipsyncd::spool {

inline constexpr const char* kJobColumns =
    "id, name, source, state, resume_state, hold_reason, attempts, next_attempt_at, spool_dir, "
    "inputs, options, content_hash, plan, uploads, endpoint, request_id, submit_intent, result, "
    "delivered_paths, error, created_at, updated_at, entered_at, request_urls, lease_node, "
    "lease_token, lease_expires_at, parent_id, segment";

}  // namespace lipsyncd::spool
