#pragma once
// Writes job events and heartbeats as single log lines with structured fields (see
// job_event.hpp for the names); the default logger is the one configure_logging() installed.

#include <spdlog/fwd.h>

#include "lipsyncd/observe/heartbeat.hpp"
#include "lipsyncd/observe/job_event.hpp"
#include "lipsyncd/observe/log_fields.hpp"

namespace lipsyncd::observe {

void log_event(const JobEvent& event);
void log_event(spdlog::logger& logger, const JobEvent& event);

// event=heartbeat with every Heartbeat number as a field; the message is status_line().
void log_heartbeat(const Heartbeat& heartbeat);
void log_heartbeat(spdlog::logger& logger, const Heartbeat& heartbeat);

// The fields a JobEvent is logged with (unset numbers and empty strings are left out).
LogFields fields_of(const JobEvent& event);

}  // namespace lipsyncd::observe
