from alignlab.cli import app

app(prog_name="alignlab")
