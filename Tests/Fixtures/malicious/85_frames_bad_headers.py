# expect: outputLimit
# max-output: 100000
# A frame header that lies: an unknown kind, a length past what its kind may carry, a negative or non-numeric length. The first ends the run with outputLimit; what follows is never read as frames or output.
import os

from frames import find_marker, write_all

marker = find_marker()
print("before")
write_all(marker + b"stderr 999999999\n" + b"y" * 70000)
write_all(marker + b"files -1\n" + marker + b"nonsense 5\nhello")
print("ESCAPED: output after a bad frame header was passed on")
os._exit(0)
