# expect: ok
# return: *.csv
# return: data/*
# returned: good.csv
# returned: data/ok.txt
# omitted: nameNotUTF8 caf\xe9.csv
# omitted: nameNotUTF8 data/\xff\xfe
# Files whose names are not UTF-8 (Latin-1 bytes, lone continuation bytes) beside ordinary ones: the ordinary ones still come back, the others are listed as omitted with their own reason and their bytes escaped.
import os

os.makedirs("data", exist_ok=True)
for name in (b"good.csv", b"caf\xe9.csv", b"data/ok.txt", b"data/\xff\xfe"):
    with open(name, "wb") as f:
        f.write(b"1\n")
print("written")
