// The page's stylesheet and script (src/report/assets/report.css and report.js), compiled
// into the binary so `causeway report` writes a self-contained file from anywhere.
// Generated into the build tree from report_assets.cpp.in; edit the files in assets/.
#pragma once

namespace causeway::report {

extern const char* const kReportCss;
extern const char* const kReportJs;

}  // namespace causeway::report
