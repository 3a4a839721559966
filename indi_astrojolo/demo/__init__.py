"""The demo an astronomer runs first: both drivers in simulation under a real indiserver.

    python -m indi_astrojolo.demo            a scripted client session that prints what happens, then stops
    python -m indi_astrojolo.demo --serve    indiserver with both simulated devices for KStars/Ekos, until Ctrl-C

session.py is the scripted session, sky.py picks the star, server.py runs indiserver, watch.py waits for replies.
"""
