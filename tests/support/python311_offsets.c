/* offsetof() of the CPython 3.11 structs causeway's 3.11 layout table describes, taken from
 * the installed python3.11-dev headers (Debian: /usr/include/python3.11). Compiled only when
 * those headers exist (tests/CMakeLists.txt); capture_python_layout_test compares. */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <stddef.h>

#include "internal/pycore_code.h"
#include "internal/pycore_frame.h"
#include "internal/pycore_interp.h"
#include "internal/pycore_runtime.h"

#include "support/python311_offsets.h"

void python311_offsets(struct Python311Offsets* o) {
  o->runtime_interpreters_head = offsetof(_PyRuntimeState, interpreters.head);
  o->interp_next = offsetof(PyInterpreterState, next);
  o->interp_threads_head = offsetof(PyInterpreterState, threads.head);
  o->tstate_next = offsetof(PyThreadState, next);
  o->tstate_native_thread_id = offsetof(PyThreadState, native_thread_id);
  o->tstate_cframe = offsetof(PyThreadState, cframe);
  o->cframe_current_frame = offsetof(_PyCFrame, current_frame);
  o->frame_previous = offsetof(_PyInterpreterFrame, previous);
  o->frame_code = offsetof(_PyInterpreterFrame, f_code);
  o->frame_prev_instr = offsetof(_PyInterpreterFrame, prev_instr);
  o->frame_is_entry = offsetof(_PyInterpreterFrame, is_entry);
  o->frame_owner = offsetof(_PyInterpreterFrame, owner);
  o->code_firstlineno = offsetof(PyCodeObject, co_firstlineno);
  o->code_filename = offsetof(PyCodeObject, co_filename);
  o->code_name = offsetof(PyCodeObject, co_name);
  o->code_qualname = offsetof(PyCodeObject, co_qualname);
  o->code_linetable = offsetof(PyCodeObject, co_linetable);
  o->code_firsttraceable = offsetof(PyCodeObject, _co_firsttraceable);
  o->code_adaptive = offsetof(PyCodeObject, co_code_adaptive);
  o->ob_type = offsetof(PyObject, ob_type);
  o->type_tp_name = offsetof(PyTypeObject, tp_name);
  o->bytes_size = offsetof(PyVarObject, ob_size);
  o->bytes_data = offsetof(PyBytesObject, ob_sval);
  o->unicode_length = offsetof(PyASCIIObject, length);
  o->ascii_size = sizeof(PyASCIIObject);
  o->compact_size = sizeof(PyCompactUnicodeObject);
  o->version_hex = PY_VERSION_HEX;
}
