/* See python311_offsets.c. Sizes and offsets in bytes. */
#ifndef CAUSEWAY_TESTS_PYTHON311_OFFSETS_H
#define CAUSEWAY_TESTS_PYTHON311_OFFSETS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct Python311Offsets {
  size_t runtime_interpreters_head, interp_next, interp_threads_head, tstate_next,
      tstate_native_thread_id, tstate_cframe, cframe_current_frame, frame_previous, frame_code,
      frame_prev_instr, frame_is_entry, frame_owner, code_firstlineno, code_filename, code_name,
      code_qualname, code_linetable, code_firsttraceable, code_adaptive, ob_type, type_tp_name,
      bytes_size, bytes_data, unicode_length, ascii_size, compact_size;
  unsigned long version_hex;
};

void python311_offsets(struct Python311Offsets* out);

#ifdef __cplusplus
}
#endif

#endif
